-- The symbols dimension (company, sector): small and joined to every fact, so a full copy on each node.
--
-- DISTSTYLE ALL puts the whole table on every node: joins from analytics.trades or from the
-- lake's Spectrum tables never redistribute either side. SORTKEY(symbol) for lookups by symbol.
CREATE TABLE IF NOT EXISTS analytics.symbols (
    symbol  VARCHAR(10)  NOT NULL,
    company VARCHAR(128) NOT NULL,
    sector  VARCHAR(64)  NOT NULL,
    PRIMARY KEY (symbol)
)
DISTSTYLE ALL
SORTKEY (symbol);
