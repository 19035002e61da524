"""spinecare: computer-controlled spinal decompression with biofeedback, and its clinical pathway.

Research software, not a certified medical device.
"""

__version__ = "0.1.0"
