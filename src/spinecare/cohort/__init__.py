"""The virtual cohort: the same controller and safety code run against many simulated patients,
faster than real time, to verify a protocol before it meets a patient."""
