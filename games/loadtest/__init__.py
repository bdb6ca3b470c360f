"""The load generator (`manage.py loadtest`, bench/), the players it runs, their statistics,
and the process stack the tests and the benchmarks start: the product's own, so that
neither it nor the tests import bench/."""
