-- The demo database's tables (the postgres image runs this on first start).
CREATE TABLE orders AS
    SELECT g AS id, now() - g * interval '1 minute' AS placed, repeat('o', 100) AS note
    FROM generate_series(1, 20000) g;
CREATE INDEX orders_placed ON orders (placed);
