"""The web app's words in German (first) and English. Clinical content (rule titles, reasons)
comes from the services; only the labels of the interface are here."""

from __future__ import annotations

from collections.abc import Callable

LANGS = ("de", "en")
DEFAULT_LANG = "de"

TEXTS: dict[str, tuple[str, str]] = {
    # key: (de, en)
    "app": ("spinecare Praxis", "spinecare clinic"),
    "today": ("Heute", "Today"),
    "patients": ("Patienten", "Patients"),
    "invoices": ("Rechnungen", "Invoices"),
    "audit": ("Protokoll", "Audit"),
    "users": ("Benutzer", "Users"),
    "logout": ("Abmelden", "Log out"),
    "login": ("Anmelden", "Log in"),
    "username": ("Benutzername", "Username"),
    "password": ("Passwort", "Password"),
    "login_failed": ("Anmeldung fehlgeschlagen.", "Login failed."),
    "change_password": ("Passwort ändern", "Change password"),
    "must_change": (
        "Bitte ändern Sie das Einmalpasswort, bevor Sie weiterarbeiten.",
        "Please change the one-time password before you go on.",
    ),
    "current_password": ("Aktuelles Passwort", "Current password"),
    "new_password": ("Neues Passwort", "New password"),
    "save": ("Speichern", "Save"),
    "saved": ("Gespeichert.", "Saved."),
    "search": ("Suchen", "Search"),
    "search_hint": ("Name oder Geburtsdatum (TT.MM.JJJJ)", "Name or birth date (YYYY-MM-DD)"),
    "new_patient": ("Neuer Patient", "New patient"),
    "name": ("Name", "Name"),
    "birth_date": ("Geburtsdatum", "Birth date"),
    "sex": ("Geschlecht", "Sex"),
    "weight_kg": ("Gewicht (kg)", "Weight (kg)"),
    "height_cm": ("Größe (cm)", "Height (cm)"),
    "insurance": ("Versicherung", "Insurance"),
    "menopause": ("Menopausenstatus", "Menopausal status"),
    "icd_consent": ("ICD-Codes auf Rechnungen erlaubt", "ICD codes allowed on invoices"),
    "edit": ("Bearbeiten", "Edit"),
    "screening": ("Screening", "Screening"),
    "decision": ("Entscheidung", "Decision"),
    "eligible": ("geeignet", "eligible"),
    "not_eligible": ("nicht geeignet", "not eligible"),
    "incomplete": ("unvollständig", "incomplete"),
    "missing_findings": ("Noch fehlende Befunde", "Findings still missing"),
    "contraindications": ("Kontraindikationen", "Contraindications"),
    "record_findings": ("Befunde erfassen", "Record findings"),
    "unknown": ("unbekannt", "unknown"),
    "yes": ("ja", "yes"),
    "no": ("nein", "no"),
    "fracture_history": ("Frakturanamnese", "Fracture history"),
    "no_fractures": ("Anamnese erhoben: keine Frakturen", "History taken: no fractures"),
    "bone": ("Knochendichte", "Bone density"),
    "add_bmd": ("DXA-Ergebnis hinzufügen", "Add DXA result"),
    "site": ("Messort", "Site"),
    "t_score": ("T-Wert", "T-score"),
    "measured_on": ("Gemessen am", "Measured on"),
    "record_decision": ("Entscheidung dokumentieren", "Record decision"),
    "courses": ("Behandlungsserien", "Courses"),
    "course": ("Serie", "Course"),
    "plan_course": ("Serie planen", "Plan a course"),
    "region": ("Region", "Region"),
    "lumbar": ("lumbal", "lumbar"),
    "cervical": ("zervikal", "cervical"),
    "segment": ("Segment", "Segment"),
    "sessions": ("Sitzungen", "Sessions"),
    "session": ("Sitzung", "Session"),
    "per_week": ("pro Woche", "per week"),
    "start": ("Beginn", "Start"),
    "review_after": ("Zwischenbilanz nach Sitzung", "Review after session"),
    "review_point": ("Zwischenbilanz", "Review point"),
    "status": ("Status", "Status"),
    "number": ("Nr.", "No."),
    "scheduled": ("Termin", "Appointment"),
    "peak_force": ("Spitzenkraft", "Peak force"),
    "base_force": ("Grundspannung", "Base tension"),
    "setup": ("Vorbereiten", "Set up"),
    "monitor": ("Monitor", "Monitor"),
    "history": ("Verlauf", "History"),
    "report": ("Bericht", "Report"),
    "outcomes": ("Verlaufsparameter", "Outcomes"),
    "nrs_before": ("Schmerz vorher (NRS)", "Pain before (NRS)"),
    "nrs_after": ("Schmerz nachher (NRS)", "Pain after (NRS)"),
    "odi": ("Oswestry (ODI, 10 Abschnitte 0-5)", "Oswestry (ODI, 10 sections 0-5)"),
    "record": ("Erfassen", "Record"),
    "cancel": ("Absagen", "Cancel"),
    "no_show": ("Nicht erschienen", "No-show"),
    "appointments": ("Termine", "Appointments"),
    "no_appointments": ("Keine Termine heute.", "No appointments today."),
    "running_now": ("Laufende Sitzungen", "Running sessions"),
    "next_days": ("Nächste Tage", "Next days"),
    "patient": ("Patient", "Patient"),
    "table": ("Liege", "Table"),
    "protocol": ("Protokoll", "Protocol"),
    "traction_minutes": ("Traktionszeit (min)", "Traction time (min)"),
    "pull_angle": ("Zugwinkel (°)", "Pull angle (deg)"),
    "hold_rest": ("Halten / Pause (s)", "Hold / rest (s)"),
    "speed": ("Tempo der Simulation (x Echtzeit)", "Simulation pace (x real time)"),
    "emg": ("Oberflächen-EMG verwenden", "Use surface EMG"),
    "clinician_max": ("Ärztliche Kraftgrenze (N, optional)", "Clinician force limit (N, optional)"),
    "segment_model": ("Kraft an den Segmenten", "Force at each segment"),
    "model_estimate": (
        "Modellschätzung, keine Messung",
        "Model estimate, not a measurement",
    ),
    "checklist": ("Vor dem Start", "Before the start"),
    "check_harness": ("Gurte sitzen fest", "Harness fastened"),
    "check_switch": (
        "Stopp-Schalter in der Hand des Patienten",
        "Stop switch in the patient's hand",
    ),
    "check_ci": (
        "Kontraindikationen heute erneut bestätigt",
        "Contraindications re-confirmed today",
    ),
    "start_session": ("Sitzung starten", "Start session"),
    "simulated_table": ("Simulierte Liege", "Simulated table"),
    "stop": ("STOPP", "STOP"),
    "pause": ("PAUSE", "PAUSE"),
    "resume": ("WEITER", "RESUME"),
    "phase": ("Phase", "Phase"),
    "time_left": ("Restzeit", "Time left"),
    "force": ("Kraft", "Force"),
    "target": ("Soll", "Target"),
    "measured": ("Gemessen", "Measured"),
    "muscle_tension": ("Muskelspannung", "Muscle tension"),
    "at_segment": ("Am Zielsegment (Modell)", "At target segment (model)"),
    "guarding": ("Gegenspannung", "Counter-tension"),
    "patient_switch": ("Patientenschalter", "Patient switch"),
    "released": ("losgelassen", "released"),
    "pressed": ("gedrückt", "pressed"),
    "faults": ("Störungen", "Faults"),
    "patient_view": ("Patientenansicht", "Patient view"),
    "fullscreen": ("Vollbild", "Full screen"),
    "fps": ("Bilder/s", "frames/s"),
    "latency": ("Latenz", "latency"),
    "session_ended": ("Sitzung beendet", "Session ended"),
    "replay": ("Wiedergabe", "Replay"),
    "play": ("Abspielen", "Play"),
    "summary": ("Zusammenfassung", "Summary"),
    "documents": ("Dokumente", "Documents"),
    "consent_form": ("Aufklärung und Einwilligung", "Information and consent"),
    "course_report": ("Serienbericht", "Course report"),
    "session_report": ("Sitzungsbericht", "Session report"),
    "create_invoice": ("Rechnung erstellen", "Create invoice"),
    "issue": ("Ausstellen", "Issue"),
    "mark_paid": ("Bezahlt", "Mark paid"),
    "storno": ("Stornieren", "Cancel"),
    "total": ("Summe", "Total"),
    "download_pdf": ("PDF", "PDF"),
    "when": ("Zeitpunkt", "When"),
    "who": ("Wer", "Who"),
    "what": ("Was", "What"),
    "entity": ("Eintrag", "Record"),
    "action": ("Aktion", "Action"),
    "role": ("Rolle", "Role"),
    "create": ("Anlegen", "Create"),
    "active": ("aktiv", "active"),
    "full_name": ("Vollständiger Name", "Full name"),
    "back": ("Zurück", "Back"),
    "error": ("Fehler", "Error"),
    "forbidden": ("Ihre Rolle darf das nicht.", "Your role may not do this."),
    "not_found": ("Nicht gefunden.", "Not found."),
    "none": ("keine", "none"),
    "warnings": ("Hinweise", "Warnings"),
    "recommendations": ("Empfehlungen", "Recommendations"),
    "research": (
        "Forschungssoftware, kein zugelassenes Medizinprodukt.",
        "Research software, not a certified medical device.",
    ),
    "pain_chart": ("Schmerz je Sitzung (NRS)", "Pain per session (NRS)"),
    "odi_chart": ("ODI je Sitzung (%)", "ODI per session (%)"),
    "peak_lowered": ("Spitze gesenkt nach Gegenspannung", "Peak lowered after counter-tension"),
}

PHASES: dict[str, tuple[str, str]] = {
    "pretension": ("Vorspannung", "Pretension"),
    "ramp_up": ("Zug aufbauen", "Ramp up"),
    "hold": ("Halten", "Hold"),
    "ramp_down": ("Zug abbauen", "Ramp down"),
    "rest": ("Pause bei Grundspannung", "Rest at base"),
    "guard_release": ("Gegenspannung: lösen", "Counter-tension: release"),
    "guard_wait": ("Warten auf Entspannung", "Waiting for relaxation"),
    "rebuild": ("Langsam wieder aufbauen", "Rebuilding slowly"),
    "final_release": ("Abschließend lösen", "Final release"),
    "done": ("Beendet", "Done"),
    "paused": ("PAUSE: Kraft gehalten", "PAUSED: force held"),
    "stopped": ("GESTOPPT: lösen auf null", "STOPPED: releasing to zero"),
    "fault": ("STÖRUNG: lösen auf null", "FAULT: releasing to zero"),
}

# The seed's contraindications as the German screen shows them (titles of
# clinical/contraindications.py RULES, translated).
CI_TITLES_DE: dict[str, str] = {
    "CI-01": "Tumor oder Metastasen der Wirbelsäule",
    "CI-02": "Schwangerschaft",
    "CI-03": "Alter unter 15 Jahren",
    "CI-04": "Schwere Osteoporose",
    "CI-05": "Hochgradige knöcherne Spinalkanalstenose",
    "CI-06": "Schwere Instabilität oder Wirbelgleiten",
    "CI-07": "Angeborene Fehlbildung, Spina bifida",
    "CI-08": "Schwere Skoliose",
    "CI-09": "Infektion oder schwere Entzündung im Behandlungsabschnitt",
    "CI-10": "Schwere Bindegewebserkrankung",
    "CI-11": "Frische Wirbelsäulenoperation",
    "CI-12": "Kompressionsfraktur innerhalb eines Jahres",
    "CI-13": "Implantate im Behandlungsabschnitt",
}

MISSING_DE: dict[str, str] = {
    "findings": "nicht erfasst",
    "bmd": "keine Knochendichtemessung und vom Arzt nicht beantwortet",
    "fractures": "Frakturanamnese nicht erhoben",
}


def check_lang(lang: str | None) -> str:
    return lang if lang in LANGS else DEFAULT_LANG


def translator(lang: str) -> Callable[[str], str]:
    i = LANGS.index(check_lang(lang))

    def _(key: str) -> str:
        entry = TEXTS.get(key)
        return entry[i] if entry else key

    return _


def phase_label(phase: str, lang: str) -> str:
    entry = PHASES.get(phase)
    return entry[LANGS.index(check_lang(lang))] if entry else phase
