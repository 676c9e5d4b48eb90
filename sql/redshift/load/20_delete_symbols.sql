-- Empties the symbols dimension so that 21_insert_symbols.sql reloads it from the reference rows (both in the load batch, one transaction: readers never see it empty).
DELETE FROM analytics.symbols;
