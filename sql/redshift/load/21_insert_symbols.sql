-- The reference rows of the symbols dimension (GICS sectors); edit here, the next load replaces the table.
INSERT INTO analytics.symbols (symbol, company, sector) VALUES
    ('AAPL', 'Apple Inc.', 'Information Technology'),
    ('AMZN', 'Amazon.com, Inc.', 'Consumer Discretionary'),
    ('BRK.B', 'Berkshire Hathaway Inc. (Class B)', 'Financials'),
    ('GOOGL', 'Alphabet Inc. (Class A)', 'Communication Services'),
    ('JPM', 'JPMorgan Chase & Co.', 'Financials'),
    ('MSFT', 'Microsoft Corporation', 'Information Technology'),
    ('NVDA', 'NVIDIA Corporation', 'Information Technology'),
    ('XOM', 'Exxon Mobil Corporation', 'Energy');
