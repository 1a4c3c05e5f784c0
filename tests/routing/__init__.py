"""Tests of the routing data: category catalog and working-time calendar."""
