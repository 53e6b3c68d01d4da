SELECT region, day, SUM(amount) FROM sales GROUP BY region, day;
