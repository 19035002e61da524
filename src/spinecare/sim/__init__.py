"""Pure physics of the simulated traction table and its virtual patients (no I/O, no clock).

``patient_model`` integrates the drive, harness, body, spine and paraspinal muscles at 1 kHz;
``population`` draws reproducible patients; ``faults`` describes injectable faults. The
``Device`` wrapper lives in ``spinecare.devices.simulated``.
"""

from spinecare.sim.faults import Fault, InjectedFault
from spinecare.sim.patient_model import PatientParams
from spinecare.sim.population import virtual_patient, virtual_population

__all__ = ["Fault", "InjectedFault", "PatientParams", "virtual_patient", "virtual_population"]
