"""Planner maps: analyses of reports over the boundary set, and their rendering, routes and CLI."""
