"""The web app's words in German (first) and English. Clinical content (rule titles, reasons)
comes from the services; only the labels of the interface are here."""

from __future__ import annotations

import re
from collections.abc import Callable

from spinecare.reports.labels import de_number as _num  # a number as German writes it
from spinecare.reports.labels import label as _label

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
    "icd_consent": ("Diagnose (ICD-Code) auf der Rechnung", "Diagnosis (ICD code) on the invoice"),
    "icd_consent_hint": (
        "Voreinstellung: angekreuzt (private Versicherer erstatten nur mit Diagnose). "
        "Nur abwählen, wenn der Patient es ausdrücklich wünscht.",
        "Ticked by default (a private insurer reimburses only with the diagnosis). "
        "Untick only when the patient asks for it.",
    ),
    "icd_on_invoice": ("Diagnose auf der Rechnung", "Diagnosis on the invoice"),
    "icd_off_invoice": (
        "Diagnose nicht auf der Rechnung (Wunsch des Patienten)",
        "Diagnosis kept off the invoice (patient's wish)",
    ),
    "form_has_errors": (
        "Bitte die markierten Felder prüfen",
        "Please check the marked fields",
    ),
    "person": ("Person", "Person"),
    "address": ("Anschrift und Kontakt", "Address and contact"),
    "street": ("Straße und Hausnummer", "Street and number"),
    "postcode": ("PLZ", "Postcode"),
    "city": ("Ort", "City"),
    "country": ("Land (ISO-Code)", "Country (ISO code)"),
    "phone": ("Telefon", "Phone"),
    "email": ("E-Mail", "E-mail"),
    "insurer": ("Versicherer", "Insurer"),
    "insurance_number": ("Versichertennummer", "Insurance number"),
    "treating_physician": ("Behandelnder Arzt", "Treating physician"),
    "date_placeholder": ("TT.MM.JJJJ", "YYYY-MM-DD or DD.MM.YYYY"),
    "course_documents": ("Alle Dokumente (ZIP)", "All documents (ZIP)"),
    "early_run": ("Hinweis zum Termin", "About the booked day"),
    "start_note": ("Hinweis", "Note"),
    "early_run_setup": (
        "Diese Sitzung ist für den {day} gebucht, in {days} Tagen. Jetzt gestartet, verkürzt sie "
        "den Abstand der Serie; sonst bitte verschieben.",
        "This session is booked for {day}, {days} days from today. Run now, it shortens the "
        "course's spacing; reschedule it if that is not intended.",
    ),
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
    # The course review in words (the rule and its order: clinical/course.py review_course).
    "review_not_improved": (
        "Keine klinisch relevante Schmerzbesserung nach %(done)s Sitzungen (NRS %(base)s → "
        "%(cur)s): Ärztin oder Arzt prüft die Indikation vor dem Fortsetzen.",
        "No clinically important pain improvement after %(done)s sessions (NRS %(base)s → "
        "%(cur)s): physician to review the indication before continuing.",
    ),
    "review_worsened": (
        "Schmerz stärker als zu Beginn (NRS %(base)s → %(cur)s): ärztliche Prüfung.",
        "Pain worse than at baseline (NRS %(base)s → %(cur)s): physician to review.",
    ),
    "review_improved": (
        "Schmerz gebessert (NRS %(base)s → %(cur)s); Serie fortsetzen.",
        "Pain improved (NRS %(base)s → %(cur)s); continue the course.",
    ),
    "review_no_baseline_pain": (
        "NRS zu Beginn 0: der Schmerzverlauf ist nicht beurteilbar; ODI verwenden.",
        "Baseline NRS 0: pain response cannot be judged; use the ODI.",
    ),
    "review_pending": (
        "Zwischenbilanz nach Sitzung %(after)s; %(done)s durchgeführt.",
        "Review after session %(after)s; %(done)s done.",
    ),
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
    "target_curve": (
        "Sollkurve des Modus (vorab, aus der Regelung)",
        "The mode's target curve (ahead of time, from the controller)",
    ),
    "curve_note": (
        "So zieht der Tisch, solange keine Gegenspannung auftritt; bei Gegenspannung löst er "
        "auf die Grundspannung und baut langsam wieder auf.",
        "What the table pulls while the patient does not tense; on counter-tension it releases "
        "to base and rebuilds slowly.",
    ),
    "plan": ("Plan", "Plan"),
    "note": ("Notiz", "Note"),
    "orthosis": ("Orthese (Spinomed-Typ)", "Orthosis (Spinomed type)"),
    "osteoporosis": ("Osteoporose-Verlauf", "Osteoporosis follow-up"),
    "prescribe_orthosis": ("Orthese verordnen", "Prescribe an orthosis"),
    "device": ("Orthese", "Orthosis"),
    "device_name": ("Produkt (andere Orthese)", "Product (other orthosis)"),
    "size": ("Größe", "Size"),
    "prescribed_on": ("Verordnet am", "Prescribed on"),
    "fitted_on": ("Angepasst am", "Fitted on"),
    "not_fitted": ("noch nicht angepasst", "not fitted yet"),
    "fit": ("Anpassung erfassen", "Record the fitting"),
    "wearing_plan": ("Trageplan", "Wearing plan"),
    "start_hours": ("Stunden/Tag zu Beginn", "Hours a day at first"),
    "target_hours": ("Ziel Stunden/Tag", "Target hours a day"),
    "step_hours": ("Steigerung (h)", "Step (h)"),
    "step_days": ("alle … Tage", "every … days"),
    "hours_today": ("heute geplant", "planned today"),
    "reason": ("Indikation", "Indication"),
    "followups": ("Verlaufskontrollen", "Follow-ups"),
    "visit": ("Termin", "Visit"),
    "due": ("fällig", "due"),
    "done_on": ("erhoben am", "done on"),
    "baseline": ("Ausgangswert", "Baseline"),
    "month_3": ("3 Monate", "3 months"),
    "month_6": ("6 Monate", "6 months"),
    "record_followup": ("Kontrolle erfassen", "Record a follow-up"),
    "change_from_baseline": ("Änderung zum Ausgangswert", "Change from baseline"),
    "against_trials": ("neben den Studien (nach 6 Monaten)", "beside the trials (after 6 months)"),
    "trials": ("Studienlage", "The trials"),
    "funding": ("Finanzierung", "Funding"),
    "followup_report": ("Verlaufsbericht", "Follow-up report"),
    "orthosis_prescribed": ("Orthese verordnet.", "Orthosis prescribed."),
    "orthosis_fitted": ("Anpassung erfasst.", "Fitting recorded."),
    "followup_recorded": ("Kontrolle erfasst.", "Follow-up recorded."),
    "workup": ("DVO-Basisdiagnostik", "DVO basic work-up"),
    "nutrition": ("Calcium und Vitamin D", "Calcium and vitamin D"),
    "risk_factors": ("Risikofaktoren", "Risk factors"),
    "drug_therapy": (
        "Medikamentöse Therapie (wie vom behandelnden Arzt verordnet)",
        "Drug therapy (as the treating physician prescribed)",
    ),
    "heights": ("Körpergröße", "Height"),
    "fractures": ("Wirbelfrakturen", "Vertebral fractures"),
    "substance": ("Wirkstoff", "Substance"),
    "dose": ("Dosis", "Dose"),
    "since": ("seit", "since"),
    "until": ("bis", "until"),
    "prescriber": ("Verordnender Arzt", "Prescriber"),
    "drug_class": ("Wirkstoffklasse", "Drug class"),
    "stop_therapy": ("beenden", "stop"),
    "recalled_height": ("größte erinnerte Erwachsenengröße", "tallest recalled adult height"),
    "answered": ("beantwortet", "answered"),
    "present": ("vorhanden", "present"),
    "spinomed": ("Spinomed", "Spinomed"),
    "spinomed_active": ("Spinomed active", "Spinomed active"),
    "other_tlo": ("andere thorakolumbale Orthese", "other thoraco-lumbar orthosis"),
    "kyphometer_note": (
        "Kyphose mit einem Sensor oder Kyphometer: Näherung (etwa ±10° gegenüber dem Röntgenbild).",
        "Kyphosis by one sensor or a kyphometer is a proxy (about ±10° against radiographs).",
    ),
    "mode": ("Modus", "Mode"),
    "pulls": ("Züge", "Pulls"),
    "minutes_total": ("min bis zum Lösen", "min to the release"),
    "static": ("statisch", "static"),
    "intermittent": ("intermittierend", "intermittent"),
    "cyclic": ("zyklisch", "cyclic"),
    "linear": ("linear", "linear"),
    "logarithmic": ("logarithmisch", "logarithmic"),
    "switch_pressed": ("GEDRÜCKT", "PRESSED"),
    "switch_free": ("nicht gedrückt", "not pressed"),
    "messages": ("Meldungen", "Messages"),
    "no_messages": ("keine", "none"),
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
    "emg_recording": ("Roh-EMG", "Raw EMG"),
    "emg_recording_hint": (
        "Oberflächen-EMG der Sitzung in Mikrovolt, 1000 Werte/s: spinecare emg detect DATEI "
        "--rate 1000 spielt den Detektor der Sitzung darüber ab",
        "The session's surface EMG in microvolts, 1000 samples/s: spinecare emg detect FILE "
        "--rate 1000 replays the session's detector over it",
    ),
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
    "method_not_allowed": (
        "Diese Adresse nimmt diese Anfrage nicht an.",
        "This address does not take this kind of request.",
    ),
    "internal_error": (
        "Ein interner Fehler von spinecare: nichts wurde gespeichert. Bitte melden Sie ihn "
        "(der Server hat ihn protokolliert).",
        "An internal error of spinecare: nothing was saved. Please report it (the server has "
        "logged it).",
    ),
    "store_busy": (
        "Die Datenbank ist gerade belegt oder nicht erreichbar; nichts wurde geändert. Bitte "
        "versuchen Sie es gleich noch einmal.",
        "The database is busy or cannot be reached; nothing was changed. Please try again.",
    ),
    "store_fault": (
        "Die Datenbank kann nicht benutzt werden; nichts wurde geändert. Bitte wenden Sie sich "
        "an die Administration.",
        "The database cannot be used; nothing was changed. Please contact the administrator.",
    ),
    "csrf_failed": (
        "Das Formular ist abgelaufen oder wurde nicht von dieser Seite gesendet. Bitte laden Sie "
        "die Seite neu und senden Sie es noch einmal.",
        "The form has expired or was not sent from this page. Please reload the page and send "
        "it again.",
    ),
    "reload_page": ("Seite neu laden", "Reload the page"),
    "none": ("keine", "none"),
    # states of sessions, courses and invoices
    "planned": ("geplant", "planned"),
    "running": ("läuft", "running"),
    "done": ("durchgeführt", "done"),
    "aborted": ("abgebrochen", "aborted"),
    "cancelled": ("abgesagt", "cancelled"),
    "reschedule": ("Verschieben", "Reschedule"),
    "new_time": ("Neuer Termin", "New time"),
    "move": ("Verschieben", "Move"),
    "record_no_show": ("Nicht erschienen", "No-show"),
    "replacement": ("Ersatztermin", "Replacement"),
    "replacement_end": (
        "am Ende der Serie (nächster freier Termin)",
        "at the end of the course (next free slot)",
    ),
    "replacement_pick": ("zu diesem Termin", "at this time"),
    "replacement_none": ("kein Ersatztermin", "no replacement"),
    "rescheduled_to": ("Termin verschoben auf", "Moved to"),
    "no_show_recorded": ("Nicht erschienen vermerkt.", "No-show recorded."),
    "replacement_booked": ("Ersatztermin:", "Replacement:"),
    "session_cancelled": ("Termin abgesagt.", "Appointment cancelled."),
    "not_done": ("Nicht ausgeführt", "Not done"),
    "more": ("Mehr", "More"),
    "completed": ("abgeschlossen", "completed"),
    "draft": ("Entwurf", "draft"),
    "issued": ("gestellt", "issued"),
    "paid": ("bezahlt", "paid"),
    "invoice": ("Rechnung", "invoice"),
    "credit_note": ("Gutschrift", "credit note"),
    "statutory": ("gesetzlich", "statutory"),
    "private": ("privat", "private"),
    "self_payer": ("Selbstzahler", "self-payer"),
    "warnings": ("Hinweise", "Warnings"),
    "recommendations": ("Empfehlungen", "Recommendations"),
    "research": (
        "Forschungssoftware, kein zugelassenes Medizinprodukt.",
        "Research software, not a certified medical device.",
    ),
    "pain_chart": ("Schmerz je Sitzung (NRS)", "Pain per session (NRS)"),
    "odi_chart": ("ODI je Sitzung (%)", "ODI per session (%)"),
    "control_loop": ("Regelschleife", "Control loop"),
    "loop_overruns": ("Überschreitungen", "overruns"),
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

# The monitor's messages (web/live.py ``severities``): latched faults, the EMG channel, clamps.
MESSAGES: dict[str, tuple[str, str]] = {
    "fault:stale_reading": (
        "Messwerte veraltet (Verbindung zum Tisch)",
        "Readings stale (link to the table)",
    ),
    "fault:out_of_range": ("Messwert außerhalb des Messbereichs", "Reading out of range"),
    "fault:stuck_load_cell": ("Kraftsensor hängt", "Load cell stuck"),
    "fault:force_jump": ("Kraftsprung (Sensor)", "Force jump (sensor)"),
    "fault:encoder_jump": ("Wegsensor springt", "Encoder jump"),
    "fault:harness_slip": ("Gurt rutscht", "Harness slipping"),
    "fault:actuator_stall": ("Antrieb blockiert", "Actuator stalled"),
    "fault:overforce": ("Kraft über dem Grenzwert", "Force above the limit"),
    "fault:controller_exception": ("Fehler in der Regelung", "Controller error"),
    "fault:loop_overrun": ("Regelschleife zu spät", "Control loop late"),
    "fault:device_refused": ("Tisch lehnt Befehl ab", "Table refused a command"),
    "fault:device_fault": ("Tisch meldet Störung", "Table reports a fault"),
    "fault:tick_exception": ("Interner Fehler", "Internal error"),
    "emg:calibrating": (
        "EMG kalibriert: Gegenspannung nur über die Kraft erkannt",
        "EMG calibrating: counter-tension by force alone",
    ),
    "emg:settling": (
        "EMG stellt sich ein: Gegenspannung nur über die Kraft",
        "EMG settling: counter-tension by force alone",
    ),
    "emg:not_quiet": (
        "EMG: Muskel aktiv, wartet auf Ruhe (nur Kraftpfad)",
        "EMG: muscle active, waiting for quiet (force path only)",
    ),
    "emg:no_signal": (
        "EMG kein Signal: Elektroden prüfen (nur Kraftpfad)",
        "EMG no signal: check the electrodes (force path only)",
    ),
    "emg:bad_input": (
        "EMG ungültige Werte: Verstärker prüfen (nur Kraftpfad)",
        "EMG invalid samples: check the amplifier (force path only)",
    ),
    "emg:baseline_lost": (
        "EMG Ruhewert verloren: kalibriert neu (nur Kraftpfad)",
        "EMG baseline lost: re-calibrating (force path only)",
    ),
    "emg:unconfirmed": (
        "EMG: Ruhewert enthielt Muskelaktivität oder Netzbrummen, lernt ihn neu (nur Kraftpfad)",
        "EMG: the baseline held muscle activity or mains hum, re-learning it (force path only)",
    ),
    "clamp:clinician": ("Kraft begrenzt: ärztliche Obergrenze", "Force limited: clinician's limit"),
    "clamp:body_weight_cap": (
        "Kraft begrenzt: Anteil Körpergewicht",
        "Force limited: share of body weight",
    ),
    "clamp:device_limit": ("Kraft begrenzt: Grenze des Tisches", "Force limited: table's limit"),
    "clamp:invalid": ("Ungültiger Sollwert verworfen", "Invalid setpoint refused"),
    "clamp:base_invalid": ("Ungültige Grundspannung verworfen", "Invalid base refused"),
    "clamp:protocol": ("Spitzenkraft des Protokolls", "Protocol peak"),
    "clamp:rate_rise": ("Anstieg begrenzt", "Rise limited"),
    "clamp:base_above_setpoint": (
        "Grundspannung an Sollwert angepasst",
        "Base held at the setpoint",
    ),
}
SEVERITY_LABELS: dict[str, tuple[str, str]] = {
    "error": ("Störung", "Fault"),
    "warning": ("Warnung", "Warning"),
    "info": ("Hinweis", "Note"),
}


def messages(lang: str) -> dict[str, str]:
    i = LANGS.index(check_lang(lang))
    return {k: v[i] for k, v in (MESSAGES | SEVERITY_LABELS).items()}


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


# services.sessions' start warnings (a session run early, a traction time too short for one
# pull); shown in the user's language under their own label.
_EARLY = re.compile(r"^session (\d+) is booked for (\d{4})-(\d{2})-(\d{2}), (\d+) days from today")
_TWICE = re.compile(r"^the patient was treated today already \(session (\d+) of course (\d+)\)")
_SHORT = re.compile(
    r"^the traction time of ([\d.]+) min is shorter than one pull "
    r"\(ramp and hold take about (\d+) s\)"
)


def start_warning(text: str, lang: str) -> tuple[str, str]:
    """A warning the service gave at the start: its label key and its text, in German where the
    page is (a warning not known here stays as the service wrote it)."""
    de = check_lang(lang) == "de"
    m = _EARLY.match(text)
    if m is not None:
        if not de:
            return "early_run", text
        number, year, month, day, days = m.groups()
        return "early_run", (
            f"Sitzung {number} ist für den {day}.{month}.{year} gebucht, in {days} Tagen. Jetzt "
            "gestartet, verkürzt sie den Abstand der Serie; sonst bitte verschieben."
        )
    m = _TWICE.match(text)
    if m is not None:
        number, course = m.groups()
        return "start_note", (
            f"Die Patientin/der Patient wurde heute schon behandelt (Sitzung {number} der Serie "
            f"{course}): dies wäre eine zweite Traktion am selben Tag."
            if de
            else text
        )
    m = _SHORT.match(text)
    if m is not None and de:
        minutes, need = m.groups()
        return "start_note", (
            f"Die Zugzeit von {minutes.replace('.', ',')} min ist kürzer als ein Zug (Rampe und "
            f"Halten dauern etwa {need} s): die Liege hält nur die Grundspannung."
        )
    return "start_note", text


# --- error messages on web pages ---------------------------------------------------------
# A refusal reads "field: reason (got 'value')" (errors.InputError, describe_validation_error,
# FastAPI's request validation joined by "; "). Known fields and the common reasons are said in
# German on German pages; anything else is shown as the service wrote it. Instructions for the
# command line never reach the web page, nor a server's file path.
FIELD_LABELS_DE: dict[str, str] = {
    "name": "Name",
    "birth_date": "Geburtsdatum",
    "sex": "Geschlecht",
    "weight_kg": "Gewicht",
    "weight": "Gewicht",
    "body_weight_kg": "Körpergewicht",
    "height_cm": "Größe",
    "insurance": "Versicherung",
    "menopausal_status": "Menopausenstatus",
    "street": "Straße",
    "postcode": "PLZ",
    "city": "Ort",
    "country": "Land",
    "phone": "Telefon",
    "email": "E-Mail",
    "insurer": "Versicherer",
    "insurance_number": "Versichertennummer",
    "physician": "Behandelnder Arzt",
    "username": "Benutzername",
    "password": "Passwort",
    "current_password": "Aktuelles Passwort",
    "new_password": "Neues Passwort",
    "new password": "Neues Passwort",
    "current password": "Aktuelles Passwort",
    "full_name": "Vollständiger Name",
    "role": "Rolle",
    "site": "Messort",
    "t_score": "T-Wert",
    "bmd_g_cm2": "Knochendichte (g/cm²)",
    "bmd": "Knochendichte",
    "measured_on": "Gemessen am",
    "date": "Datum",
    "region": "Region",
    "segment": "Segment",
    "sessions": "Sitzungen",
    "per_week": "Sitzungen pro Woche",
    "start": "Beginn",
    "preferred_time": "Uhrzeit",
    "review_after": "Zwischenbilanz",
    "minutes": "Traktionszeit",
    "angle": "Zugwinkel",
    "angle_deg": "Zugwinkel",
    "hold_s": "Haltezeit",
    "rest_s": "Pause",
    "speed": "Tempo der Simulation",
    "clinician_max_force_n": "Ärztliche Kraftgrenze",
    "nrs_before": "Schmerz vorher (NRS)",
    "nrs_after": "Schmerz nachher (NRS)",
    "odi": "Oswestry (ODI)",
    "answers": "ODI-Antworten",
    "session": "Sitzung",
    "course": "Serie",
    "patient": "Patient/in",
    "invoice": "Rechnung",
    "new_time": "Neuer Termin",
    "when": "Termin",
    "device": "Orthese",
    "device_name": "Produkt",
    "size": "Größe",
    "prescribed_on": "Verordnet am",
    "fitted_on": "Angepasst am",
    "done_on": "Erhoben am",
    "visit": "Termin",
    "start_hours": "Stunden/Tag zu Beginn",
    "target_hours": "Ziel Stunden/Tag",
    "step_hours": "Steigerung",
    "step_days": "Tage je Steigerung",
    "measures": "Messwerte",
    "note": "Notiz",
    "reason": "Indikation",
    "present": "vorhanden",
    "code": "Risikofaktor",
    "drug_class": "Wirkstoffklasse",
    "substance": "Wirkstoff",
    "dose": "Dosis",
    "started_on": "seit",
    "stopped_on": "bis",
    "prescriber": "Verordnender Arzt",
    "therapy": "Therapie",
    "recalled": "größte erinnerte Erwachsenengröße",
    "out": "Sitzung",
    "emg": "EMG",
    "lang": "Sprache",
    "icd_consent": "Diagnose auf der Rechnung",
    "next": "Zielseite",
    "replacement": "Ersatztermin",
    "replacement_start": "Ersatztermin",
    "patient_id": "Patient/in",
    "course_id": "Serie",
    "session_id": "Sitzung",
    "course-session": "Sitzung",
    "active": "aktiv",
    "recorded_on": "Erfasst am",
    "checklist": "Checkliste",
    "status": "Status",
    "action": "Aktion",
    "paid_on": "Bezahlt am",
    "diagnosis": "Diagnose",
    # records not found (services/errors.py NotFoundError)
    "user": "Benutzer",
    "running session": "laufende Sitzung",
    "telemetry of session": "Aufzeichnung der Sitzung",
    "EMG recording of session": "EMG-Aufzeichnung der Sitzung",
    "drug therapy": "medikamentöse Therapie",
    "orthosis prescription": "Orthesenverordnung",
}

_REASONS_DE: dict[str, str] = {
    "required": "ist erforderlich",
    "is required": "ist erforderlich",
    "Field required": "ist erforderlich",
    "field required": "ist erforderlich",
    "does not match": "stimmt nicht",
    "expected text, not a file": "erwartet Text, keine Datei",
    "a checkbox is 'on' or absent": "ungültiger Wert für ein Kästchen",
    "a whole number is needed": "bitte eine ganze Zahl angeben",
    "expected a time of day as HH:MM (00:00 to 23:59)": "bitte eine Uhrzeit als HH:MM angeben",
    "expected a date and time (YYYY-MM-DD HH:MM)": "bitte Datum und Uhrzeit angeben",
    "already taken: choose another name": "ist schon vergeben: bitte einen anderen Namen wählen",
    "you cannot deactivate your own account": "das eigene Konto kann nicht gesperrt werden",
    # patient master data (services/patients.py)
    "expected a date as YYYY-MM-DD or DD.MM.YYYY": "bitte ein Datum als TT.MM.JJJJ angeben",
    "expected a number such as 80.5 or 80,5": "bitte eine Zahl wie 80,5 angeben",
    "a name needs at least one letter": "ein Name braucht mindestens einen Buchstaben",
    "not a country code of ISO 3166-1 such as DE, AT, CH": (
        "kein Ländercode nach ISO 3166-1 wie DE, AT, CH"
    ),
    "not an e-mail address such as name@example.de": "keine E-Mail-Adresse wie name@example.de",
    "a phone number of 6-20 digits, e.g. +49 89 1234567": (
        "eine Telefonnummer mit 6 bis 20 Ziffern, z. B. +49 89 1234567"
    ),
    "a German postcode has five digits, e.g. 80331": (
        "eine deutsche Postleitzahl hat fünf Ziffern, z. B. 80331"
    ),
    "3-10 letters, digits, spaces or hyphens": (
        "3 bis 10 Buchstaben, Ziffern, Leer- oder Bindestriche"
    ),
    "only for female patients": "nur bei Patientinnen",
    "a self-payer has no insurer (or choose --insurance private)": (
        "Selbstzahler haben keinen Versicherer (oder „privat“ wählen)"
    ),
    "must not be in the future": "darf nicht in der Zukunft liegen",
    "must not be before the patient's birth date": "darf nicht vor dem Geburtsdatum liegen",
    "before the prescription": "liegt vor der Verordnung",
    "before started_on": "liegt vor dem Beginn",
    "give the day of the fitting": "bitte den Tag der Anpassung angeben",
    "give the day of the visit": "bitte den Tag der Kontrolle angeben",
    "record at least one outcome measure": "bitte mindestens einen Messwert erfassen",
    "name the orthosis when it is not a Spinomed": (
        "bitte das Produkt angeben, wenn es keine Spinomed ist"
    ),
    "expected yes, no or nothing": "erwartet ja, nein oder leer",
    "is running already": "läuft bereits",
    "its patient has been deleted": "die Patientin/der Patient wurde gelöscht",
    "its course is cancelled": "die Serie ist abgesagt",
    "already on an invoice": "ist schon abgerechnet",
    "a discarded draft is no invoice: nothing to print (draft a new one to bill)": (
        "ein verworfener Entwurf ist keine Rechnung: nichts zu drucken (für die Abrechnung "
        "bitte neu entwerfen)"
    ),
    "is not this patient's": "gehört nicht zu dieser Patientin/diesem Patienten",
    "this server runs as many sessions as it may": (
        "auf diesem Server laufen bereits so viele Sitzungen wie erlaubt"
    ),
    "did not get ready in time": "wurde nicht rechtzeitig bereit",
    "the table on the wire has no EMG channel": "die Liege hat keinen EMG-Kanal",
    "no valid BMD measurement": "keine gültige Knochendichtemessung",
    "name at least one session": "bitte mindestens eine Sitzung wählen",
    "a T-score of 0 does not determine the SD": "ein T-Wert von 0 legt die SD nicht fest",
    "no T-score: give BMD with a reference or the T-score": (
        "kein T-Wert: bitte den T-Wert oder die Knochendichte mit Referenz angeben"
    ),
    "your login is not valid (expired, ended or unknown)": (
        "Ihre Anmeldung ist nicht mehr gültig (abgelaufen, beendet oder unbekannt)"
    ),
    # the day's plan (services/schedule.py)
    "is in the past": "liegt in der Vergangenheit",
    "must end on the day it starts": "muss am selben Tag enden",
    "give the time when you pick the replacement": (
        "bitte Datum und Uhrzeit des Ersatztermins angeben"
    ),
    "only with replacement='pick'": "nur bei einem selbst gewählten Ersatztermin",
    # screening, bone density, outcomes, the session's start
    "expected yes, no or unknown": "erwartet ja, nein oder unbekannt",
    "a BMD measurement needs bmd_g_cm2 or t_score": (
        "bitte die Knochendichte (g/cm²) oder den T-Wert angeben"
    ),
    "give nrs_before and/or nrs_after": "bitte den Schmerz vorher und/oder nachher angeben",
    "confirm the harness, the stop switch in the patient's hand and the contraindications "
    "before the start": (
        "vor dem Start bitte Gurte, Stopp-Schalter in der Hand des Patienten und "
        "Kontraindikationen bestätigen"
    ),
    # the orthosis follow-up (web/orthosis.py)
    "baseline, month_3 or month_6": "erlaubt sind: Ausgangswert, 3 Monate oder 6 Monate",
    # invoices (billing/invoice.py, services/invoices.py)
    "a credit note cannot itself be cancelled": (
        "eine Gutschrift kann nicht selbst storniert werden"
    ),
    "a credit note is not marked paid: the states track what the patient owes": (
        "eine Gutschrift wird nicht als bezahlt markiert: der Status zeigt, was die "
        "Patientin/der Patient schuldet"
    ),
    "an invoice without lines cannot be issued": (
        "eine Rechnung ohne Positionen kann nicht gestellt werden"
    ),
    "an invoice needs at least one session": "eine Rechnung braucht mindestens eine Sitzung",
    "name either sessions or a course": "bitte entweder Sitzungen oder eine Serie angeben",
    "has no record of when it ran": "es ist nicht erfasst, wann sie gelaufen ist",
    "must not be empty": "darf nicht leer sein",
    "another process is running a session there": (
        "dort läuft gerade eine Sitzung in einem anderen Prozess"
    ),
    "nothing to correct: give a measure, the date or a note": (
        "nichts zu korrigieren: bitte einen Messwert, das Datum oder eine Notiz angeben"
    ),
}

# an orthosis visit and a day as services.orthosis writes them, in German
_VISIT_DE = {"baseline": "Ausgangswert", "month_3": "3 Monate", "month_6": "6 Monate"}
_ISO_DAY = r"(\d{4})-(\d{2})-(\d{2})"


def _de_day(m: re.Match[str], first: int) -> str:
    return f"{m[first + 2]}.{m[first + 1]}.{m[first]}"


# a bound in a pydantic message: ``10``, ``-10``, ``3.0`` or ``Decimal('250')``
_NUM = r"(?:Decimal\(')?(-?[\d.]+)(?:'\))?"

_REASON_PATTERNS_DE: list[tuple[re.Pattern[str], Callable[[re.Match[str]], str]]] = [
    (re.compile(p), f)
    for p, f in (
        (r"not a number(?: \(write it like 80\.5 or 80,5\))?", lambda m: "keine Zahl (z. B. 80,5)"),
        (
            r"(\S+) \((admin|physician|therapist|billing)\) may not .+",
            lambda m: f"{m[1]} ({_label('role', m[2], 'de')}) darf diese Aktion nicht ausführen",
        ),
        (
            r"holds a session's record already \(.*\); choose a new directory",
            lambda m: "wurde bereits gestartet; bitte den Verlauf der Sitzung öffnen",
        ),
        (
            rf"(\w+) is due from {_ISO_DAY}: the trials measured it (\d+) months after the "
            rf"fitting \(fitted {_ISO_DAY}\), so a visit on {_ISO_DAY} is too early",
            lambda m: (
                f"die Kontrolle „{_VISIT_DE.get(m[1], m[1])}“ ist ab dem {_de_day(m, 2)} fällig: "
                f"die Studien haben sie {m[5]} Monate nach der Anpassung gemessen (angepasst am "
                f"{_de_day(m, 6)}); am {_de_day(m, 9)} ist es zu früh"
            ),
        ),
        (
            r"(\w+) is counted from the fitting and the orthosis is not fitted yet: record the "
            r"fitting first",
            lambda m: (
                f"die Kontrolle „{_VISIT_DE.get(m[1], m[1])}“ zählt ab der Anpassung, und die "
                "Orthese ist noch nicht angepasst: bitte zuerst die Anpassung erfassen"
            ),
        ),
        (
            rf"(\w+) was recorded on {_ISO_DAY}, before it is due after a fitting on this day "
            rf"\(from {_ISO_DAY}\)",
            lambda m: (
                f"die Kontrolle „{_VISIT_DE.get(m[1], m[1])}“ ist am {_de_day(m, 2)} erfasst, vor "
                f"ihrem Termin nach einer Anpassung an diesem Tag (ab {_de_day(m, 5)})"
            ),
        ),
        (
            r"already recorded as recording (\d+)",
            lambda m: f"schon als Aufzeichnung {m[1]} erfasst",
        ),
        (
            r"overlaps recording (\d+) \((.+) to (.+)\): the same hours would count twice",
            lambda m: (
                f"überschneidet sich mit Aufzeichnung {m[1]} ({m[2]} bis {m[3]}): dieselben "
                "Stunden zählten doppelt"
            ),
        ),
        (r"must be (?:≤|<=) ([\d.,]+)(.*)", lambda m: f"darf höchstens {_num(m[1])}{m[2]} sein"),
        (r"must be (?:≥|>=) ([\d.,]+)(.*)", lambda m: f"muss mindestens {_num(m[1])}{m[2]} sein"),
        (
            r"must be ([\d.,]+) ?(?:-|to|–) ?([\d.,]+)(.*)",
            lambda m: f"muss zwischen {_num(m[1])} und {_num(m[2])}{_unit_de(m[3])} liegen",
        ),
        (
            rf"Input should be less than or equal to {_NUM}",
            lambda m: f"darf höchstens {_num(m[1])} sein",
        ),
        (rf"Input should be less than {_NUM}", lambda m: f"muss kleiner als {_num(m[1])} sein"),
        (
            rf"Input should be greater than or equal to {_NUM}",
            lambda m: f"muss mindestens {_num(m[1])} sein",
        ),
        (rf"Input should be greater than {_NUM}", lambda m: f"muss größer als {_num(m[1])} sein"),
        (
            r"Input should be a valid (?:number|integer|decimal).*",
            lambda m: "keine gültige Zahl",
        ),
        (r"Input should be a valid date.*", lambda m: "kein gültiges Datum"),
        (r"Input should be ('[^']*'(?:, '[^']*')*(?: or '[^']*')?)", lambda m: _choices(m[1])),
        (r"Input should be (.+)", lambda m: f"erlaubt sind: {m[1]}"),
        (
            r"String should have at most (\d+) characters?",
            lambda m: f"höchstens {m[1]} Zeichen",
        ),
        (
            r"String should have at least (\d+) characters?",
            lambda m: f"mindestens {m[1]} Zeichen",
        ),
        (r"at most (\d+) characters.*", lambda m: f"höchstens {m[1]} Zeichen"),
        (
            r"needs at least (\d+) characters.*",
            lambda m: f"braucht mindestens {m[1]} Zeichen: bitte ein längeres wählen",
        ),
        (r"already (\w+)", lambda m: f"bereits {label('status', m[1], 'de')}"),
        (r"is (\w+), not (\w+)", lambda m: _is_not(m[1], m[2])),
        (
            r"is (\w+): outcomes are recorded once the session has run.*",
            lambda m: (
                f"ist {label('status', m[1], 'de')}: Verlaufsparameter werden erfasst, sobald "
                "die Sitzung gelaufen ist"
            ),
        ),
        (
            r"is (\w+): a report is made once it has run.*",
            lambda m: (
                f"ist {label('status', m[1], 'de')}: ein Bericht entsteht, sobald die Sitzung "
                "gelaufen ist"
            ),
        ),
        (
            r"no treated, unbilled sessions.*",
            lambda m: "keine durchgeführten, noch nicht abgerechneten Sitzungen",
        ),
        (
            r"change your own password.*",
            lambda m: "das eigene Passwort bitte unter „Passwort ändern“ ändern",
        ),
        (
            r"unknown site \(allowed: .*\)",
            lambda m: "unbekannter Messort",
        ),
        (
            r"control or formatting characters are not allowed.*",
            lambda m: "Steuer- oder Formatierungszeichen sind nicht erlaubt",
        ),
        (r"no such day '(.*)'", lambda m: f"diesen Tag gibt es nicht ({m[1]})"),
        (
            r"must be after (\d{4})-(\d\d)-(\d\d)",
            lambda m: f"muss nach dem {m[3]}.{m[2]}.{m[1]} liegen",
        ),
        # the day's plan (services/schedule.py)
        (
            r"its time has not come \(planned (.+)\): reschedule or cancel it",
            lambda m: (
                f"der Termin ist noch nicht erreicht (geplant {m[1]}): bitte verschieben oder "
                "absagen"
            ),
        ),
        (
            r"is more than (\d+) days ahead",
            lambda m: f"liegt mehr als {m[1]} Tage in der Zukunft",
        ),
        (
            r"(\d{4})-(\d\d)-(\d\d) is not a clinic day \(weekend, public holiday or closed\)",
            lambda m: (
                f"der {m[3]}.{m[2]}.{m[1]} ist kein Praxistag (Wochenende, Feiertag oder "
                "geschlossen)"
            ),
        ),
        (
            r"outside opening hours \((\S+)-(\S+), a session takes (\d+) min\)",
            lambda m: (
                f"außerhalb der Öffnungszeiten ({m[1]}–{m[2]} Uhr; eine Sitzung dauert {m[3]} min)"
            ),
        ),
        (
            r"the table is booked then \(session (\d+) at (.+)\)",
            lambda m: f"die Liege ist dann belegt (Sitzung {m[1]} am {m[2]})",
        ),
        (
            r"must be (before|after) session (\d+) of the course \((.+)\)",
            lambda m: (
                f"muss {'vor' if m[1] == 'before' else 'nach'} Sitzung {m[2]} der Serie "
                f"liegen ({m[3]})"
            ),
        ),
        (
            r"the replacement comes after the course's last session \((.+)\)",
            lambda m: f"der Ersatztermin muss nach der letzten Sitzung der Serie liegen ({m[1]})",
        ),
        (
            r"no free slot within (\d+) days after the course",
            lambda m: f"kein freier Termin in den {m[1]} Tagen nach der Serie",
        ),
        (
            r"a time within the years (\d+)-(\d+)",
            lambda m: f"bitte eine Zeit zwischen den Jahren {m[1]} und {m[2]} angeben",
        ),
        # a switch (the user's active flag): ``on`` or ``off``
        (r"expected '[^']*' or '[^']*'", lambda m: "ungültiger Wert für einen Schalter"),
        # courses, outcomes
        (
            r"not a (lumbar|cervical) segment \(one of (.+)\)",
            lambda m: (
                f"kein {'lumbales' if m[1] == 'lumbar' else 'zervikales'} Segment (erlaubt: {m[2]})"
            ),
        ),
        (
            r"needs (\d+) comma-separated values",
            lambda m: f"braucht {m[1]} durch Kommas getrennte Werte",
        ),
        (
            r"section (\d+) must be (\d+)-(\d+) or blank",
            lambda m: f"Abschnitt {m[1]} muss zwischen {m[2]} und {m[3]} liegen oder leer bleiben",
        ),
        # invoices (billing/invoice.py, services/invoices.py)
        (
            r"belongs to another patient than (\d+)",
            lambda m: f"gehört nicht zu dieser Patientin/diesem Patienten (Nr. {m[1]})",
        ),
        (
            r"only a draft can be issued \(this one is (\w+)\)",
            lambda m: (
                f"nur ein Entwurf kann gestellt werden (Status dieser Rechnung: "
                f"{label('status', m[1], 'de')})"
            ),
        ),
        (
            r"only an issued invoice can be marked paid \(this one is (\w+)\)",
            lambda m: (
                "nur eine gestellte Rechnung kann als bezahlt markiert werden (Status dieser "
                f"Rechnung: {label('status', m[1], 'de')})"
            ),
        ),
        (
            r"only an issued or paid invoice is cancelled by a credit note "
            r"\(this one is (\w+); a draft is simply discarded\)",
            lambda m: (
                "nur eine gestellte oder bezahlte Rechnung wird mit einer Gutschrift storniert "
                f"(Status dieser Rechnung: {label('status', m[1], 'de')}; ein Entwurf wird "
                "einfach verworfen)"
            ),
        ),
        (
            r"only a draft can be discarded \(this one is (\w+)\); cancel an issued invoice "
            r"instead",
            lambda m: (
                f"nur ein Entwurf kann verworfen werden (Status dieser Rechnung: "
                f"{label('status', m[1], 'de')}); eine gestellte Rechnung bitte stornieren"
            ),
        ),
        (
            r"the invoice is (\w+): an issued invoice is never edited; cancel it with a credit "
            r"note and draft a new one",
            lambda m: (
                f"die Rechnung ist {label('status', m[1], 'de')}: eine gestellte Rechnung wird "
                "nie geändert; bitte mit einer Gutschrift stornieren und neu entwerfen"
            ),
        ),
        (
            r"must not be in the future \(today is (\d{4})-(\d\d)-(\d\d)\)",
            lambda m: f"darf nicht in der Zukunft liegen (heute ist der {m[3]}.{m[2]}.{m[1]})",
        ),
        # the orthosis and the osteoporosis follow-up
        (
            r"must be one of (.+)",
            lambda m: _listed(m[1].replace("custom", "Maßanfertigung").split(", ")),
        ),
        (r"unknown risk factor \(allowed: .*\)", lambda m: "unbekannter Risikofaktor"),
        # a record that is not there (services/errors.py NotFoundError)
        (
            r"([A-Za-z][A-Za-z_ ]*?) (\S+): not found",
            lambda m: f"{field_label(m[1], 'de')} {m[2]}: nicht gefunden",
        ),
        (
            r"implausible (weight|height) for a (\d+)-year-old: far (above|below) .*",
            lambda m: (
                f"{'Gewicht' if m[1] == 'weight' else 'Größe'} für {m[2]} Jahre nicht plausibel: "
                f"weit {'über' if m[3] == 'above' else 'unter'} der CDC-Wachstumsreferenz"
            ),
        ),
    )
]


def _choices(quoted: str) -> str:
    """``'statutory', 'private' or 'self_payer'`` -> "erlaubt sind: gesetzlich, privat oder
    Selbstzahler" (a code value by its German label where one is known)."""
    from spinecare.reports.labels import LABELS

    # the no-show form's replacement (its radio buttons' words)
    own = {
        "end_of_course": TEXTS["replacement_end"][0],
        "pick": TEXTS["replacement_pick"][0],
        "none": TEXTS["replacement_none"][0],
    }

    def word(value: str) -> str:
        if value in own:
            return own[value]
        for kind in (*_VALUE_KINDS, "device", "visit", "bmd_site", "drug_class"):
            if value in LABELS.get(kind, {}):
                return label(kind, value, "de")
        return value

    return _listed([word(v) for v in re.findall(r"'([^']*)'", quoted)])


def _listed(values: list[str]) -> str:
    """The allowed values: "erlaubt sind: a, b oder c"."""
    if len(values) < 2:
        return f"erlaubt ist: {''.join(values)}"
    return f"erlaubt sind: {', '.join(values[:-1])} oder {values[-1]}"


def _unit_de(rest: str) -> str:
    from spinecare.reports.orthosis_report import MEASURE_UNITS_DE

    out = rest.replace(" years", " Jahren").replace(" sessions", " Sitzungen")
    for en, de in MEASURE_UNITS_DE.items():
        out = out.replace(f"({en})", f"({de})")
    return out


def _is_not(now: str, wanted: str) -> str:
    return f"ist {label('status', now, 'de')}, nicht {label('status', wanted, 'de')}"


def label(kind: str, value: object, lang: str) -> str:
    """The word a reader sees for a code value (reports/labels.py holds the table)."""
    from spinecare.reports.labels import label as _label

    return _label(kind, value, check_lang(lang))


def reason_text(reason: str, lang: str) -> str:
    """A refusal's reason in the page's language (a reason not known here stays as written)."""
    reason = _web_safe(reason)
    if check_lang(lang) != "de":
        return reason
    if reason in _REASONS_DE:
        return _REASONS_DE[reason]
    for pattern, make in _REASON_PATTERNS_DE:
        m = pattern.fullmatch(reason)
        if m is not None:
            return make(m)
    return reason


def field_label(field: str, lang: str) -> str:
    """``weight_kg`` -> "Gewicht"; a path (``findings.CI-01.date``) by its known parts."""
    from spinecare.reports.orthosis_report import MEASURE_NAMES_DE

    if check_lang(lang) != "de":
        return field.replace("_", " ")
    parts = [p for p in field.split(".") if p and p != "body"]
    known = FIELD_LABELS_DE | MEASURE_NAMES_DE | CI_TITLES_DE
    # the screening form's fields: ``ci_CI-01`` (the answer), ``detail_CI-01`` (its detail)
    parts = [
        f"{CI_TITLES_DE[p[3:]]}"
        if p.startswith("ci_") and p[3:] in CI_TITLES_DE
        else f"{CI_TITLES_DE[p[7:]]} · Angabe"
        if p.startswith("detail_") and p[7:] in CI_TITLES_DE
        else p
        for p in parts
    ]
    named = [known.get(p, p) for p in parts]
    return " · ".join(named) or field


# CLI instructions and server paths: what a web user does instead.
_CLI = re.compile(
    r"\s*(?:\((?:run )?`?spinecare [^)]*\)|[:;]?\s*(?:run|log in again:|start it with)\s+"
    r"`?spinecare [^;)]*)"
)
_GOT_PATH = re.compile(r" \(got '(?:/|[A-Za-z]:\\)[^']*'\)")
_ERROR_PART = re.compile(
    r"^(?P<field>[A-Za-z_][\w.\-]*(?: [a-z_]+)?): (?P<reason>.*?)(?P<got> \(got .*\))?$"
)
_GOT_DECIMAL = re.compile(r"(?<=^ \(Eingabe: )-?\d+\.\d+(?=\)$)")
_GOT_DAY = re.compile(r"\b(\d{4})-(0[1-9]|1[0-2])-(0[1-9]|[12]\d|3[01])\b")
_SPLIT = re.compile(r"; (?=[A-Za-z_][\w.\-]*: )")


def _web_safe(text: str) -> str:
    text = _GOT_PATH.sub("", text)
    if "change your own password with spinecare passwd" in text:
        text = text.replace(
            "change your own password with spinecare passwd",
            "change your own password under 'Change password'",
        )
    return _CLI.sub("", text)


def error_text(text: str, lang: str) -> str:
    """An error message for a web page: German where its field and reason are known, never a
    ``spinecare ...`` command or a server path."""
    text = _web_safe(str(text))
    if check_lang(lang) != "de":
        return text
    out: list[str] = []
    for part in _SPLIT.split(text):
        m = _ERROR_PART.match(part)
        if m is None:
            out.append(reason_text(part, lang))
            continue
        got = (m["got"] or "").replace(" (got ", " (Eingabe: ")
        got = _GOT_DECIMAL.sub(lambda g: g[0].replace(".", ","), got)  # a read number: 0,5
        got = _GOT_DAY.sub(lambda g: f"{g[3]}.{g[2]}.{g[1]}", got)  # a read day: 24.12.2026
        out.append(f"{field_label(m['field'], lang)}: {_reason_de(m['reason'], lang)}{got}")
    return "; ".join(out).replace(" more)", " weitere)")


def _reason_de(reason: str, lang: str) -> str:
    """A reason, or a refusal nested in it (``session: minutes: Input should be ...``)."""
    text = reason_text(reason, lang)
    if text != _web_safe(reason):
        return text
    inner = _ERROR_PART.match(reason)
    if inner is None or inner["got"]:
        return text
    return f"{field_label(inner['field'], lang)}: {reason_text(inner['reason'], lang)}"


def flash_text(message: str, lang: str) -> str:
    """A flash: a key of TEXTS, or a sentence (a refusal's reason after "Nicht ausgeführt:")."""
    if message in TEXTS:
        return translator(lang)(message)
    head, sep, rest = message.partition(": ")
    if sep and head in (TEXTS["not_done"][0], TEXTS["not_done"][1]):
        return f"{translator(lang)('not_done')}: {error_text(rest, lang)}"
    return error_text(message, lang)


# --- the audit log -------------------------------------------------------------------------
AUDIT_FIELDS_DE: dict[str, str] = {
    "end_reason": "Grund des Endes",
    "duration_s": "Dauer (s)",
    "started_at": "Beginn",
    "ended_at": "Ende",
    "telemetry_dir": "Aufzeichnung",
    "traction_minutes": "Traktionszeit (min)",
    "must_change_password": "Passwortwechsel nötig",
    "schema_version": "Schema-Version",
    "fracture_history_on": "Frakturanamnese am",
    "status": "Status",
    "decision": "Entscheidung",
    "kind": "Art",
    "number": "Nummer",
    "active": "aktiv",
    "scheduled_start": "Termin",
    "scheduled_end": "Terminende",
    "protocol": "Protokoll",
    "occurred_on": "Datum",
    "level": "Wirbel",
    "compression": "Kompression",
    "detail": "Angabe",
    "summary": "Zusammenfassung",
}
# the kinds a stored value is looked up in, first match wins
_VALUE_KINDS = (
    "status",
    "decision",
    "role",
    "region",
    "insurance",
    "sex",
    "menopause",
    "who_class",
    "bmd_site",
    "fracture_kind",
    "drug_class",
    "height_kind",
    "device",
    "visit",
    "invoice_kind",
    "outcome_kind",
    "risk_factor",
)


def audit_field(field: str, lang: str) -> str:
    if check_lang(lang) == "de":
        de = AUDIT_FIELDS_DE.get(field) or FIELD_LABELS_DE.get(field)
        if de:
            return de
    return field.replace("_", " ")


def audit_value(field: str, value: object, lang: str) -> str:
    from spinecare.reports.labels import LABELS, end_reason

    if isinstance(value, str):
        if field == "end_reason":
            return end_reason(value, check_lang(lang))
        for kind in _VALUE_KINDS:
            if value in LABELS[kind]:
                return label(kind, value, lang)
        return value
    if isinstance(value, bool):
        return translator(lang)("yes" if value else "no")
    if isinstance(value, dict | list):  # a record inside the record: its size, not its repr
        n = len(value)
        return f"({n} Angaben)" if check_lang(lang) == "de" else f"({n} entries)"
    return "—" if value is None else str(value)


def audit_changes(entry: object, lang: str) -> str:
    """What an audit entry changed, fields and code values in the page's language:
    ``Gewicht: 70.0 → 72.0``; a record's name or summary when it was created or deleted."""
    before = getattr(entry, "before", None) or {}
    after = getattr(entry, "after", None) or {}
    parts: list[str] = []
    if before and after:
        for k, v in after.items():
            old = before.get(k)
            if old == v or k == "updated_at":
                continue
            if isinstance(old, dict) and isinstance(v, dict):
                parts += [
                    f"{audit_field(k, lang)}.{audit_field(sub, lang)}: "
                    f"{audit_value(sub, old.get(sub), lang)} → {audit_value(sub, new, lang)}"
                    for sub, new in v.items()
                    if old.get(sub) != new
                ]
            else:
                parts.append(
                    f"{audit_field(k, lang)}: {audit_value(k, old, lang)} → "
                    f"{audit_value(k, v, lang)}"
                )
        return ", ".join(parts)[:300]
    data = after or before
    keys = ("name", "username", "number", "decision", "status", "kind", "code")
    return ", ".join(
        f"{audit_field(k, lang)}: {audit_value(k, data[k], lang)}" for k in keys if k in data
    )[:300]
