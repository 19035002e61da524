"""Documents: invoices, cost estimates, consent forms, session and course reports as PDFs
(Jinja2 HTML/CSS templates rendered by WeasyPrint; charts by matplotlib, embedded as PNG)."""
