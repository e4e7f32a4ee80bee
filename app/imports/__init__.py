"""Spreadsheet imports: read a file -> stage its rows in the database -> review ->
apply through the same services as the screens (allocation, learners)."""
