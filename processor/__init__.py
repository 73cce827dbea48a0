"""The processor: consume wire-format (and third-party) records, parse them, map them to ECS, bulk-index them."""
