"""Traction tables: one Device protocol, a simulated table and real drivers."""
