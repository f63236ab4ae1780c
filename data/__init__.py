"""The embedded sample study (north Chengdu), shipped in the wheel as the package data
``eldercare_coverage.sample`` so that an installed tool runs it with no checkout.
This file only makes the folder importable; see README.md here for the data."""
