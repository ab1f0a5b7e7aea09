"""What runs offline and never in the app: building the shipped assets from ../shared/data (film sources, entity
resolution, merge report, co-occurrence) and importing a user's own catalog. Ranker training stays in bench/,
where the time-ordered ReDial splits it trains on live."""
