"""Labels of code values and the German wording of clinical texts, for pages and documents.

Every enum or code value a reader sees (a WHO class, a DXA site, a drug class, a status, a role,
an event) goes through :func:`label`, which knows a German and an English label for it. The
clinical modules write their texts in English (``clinical/bone.py``, ``clinical/orthosis.py``,
``clinical/osteoporosis_followup.py``, ``clinical/contraindications.py``); the functions below
give their German wording for German pages and documents, by the item's code where it has one
and by the known sentence patterns otherwise. A text not known here is shown as written.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Callable

LANGS = ("de", "en")

# kind -> value -> (de, en)
LABELS: dict[str, dict[str, tuple[str, str]]] = {
    "who_class": {
        "normal": ("normal", "normal"),
        "osteopenia": ("Osteopenie", "osteopenia"),
        "osteoporosis": ("Osteoporose", "osteoporosis"),
        "severe_osteoporosis": ("schwere Osteoporose", "severe osteoporosis"),
        "below_expected_range": (
            "unterhalb des altersentsprechenden Bereichs",
            "below the expected range for age",
        ),
        "within_expected_range": (
            "im altersentsprechenden Bereich",
            "within the expected range for age",
        ),
    },
    "bmd_site": {
        "lumbar_spine": ("Lendenwirbelsäule (L1–L4)", "lumbar spine (L1–L4)"),
        "femoral_neck": ("Schenkelhals", "femoral neck"),
        "total_hip": ("Gesamte Hüfte", "total hip"),
        "radius_33": ("Radius (33 %)", "radius (33%)"),
    },
    "fracture_kind": {
        "osteoporotic": ("osteoporotisch", "osteoporotic"),
        "traumatic": ("traumatisch", "traumatic"),
        "pathologic": ("pathologisch", "pathologic"),
        "compression": ("Kompressionsfraktur", "compression"),
    },
    "drug_class": {
        "bisphosphonate": ("Bisphosphonat", "bisphosphonate"),
        "denosumab": ("Denosumab", "denosumab"),
        "teriparatide": ("Teriparatid", "teriparatide"),
        "romosozumab": ("Romosozumab", "romosozumab"),
        "serm": ("SERM (z. B. Raloxifen)", "SERM (e.g. raloxifene)"),
        "hormone_therapy": ("Hormontherapie", "hormone therapy"),
        "calcium_vitamin_d": ("Calcium und Vitamin D", "calcium and vitamin D"),
        "other": ("andere", "other"),
    },
    "workup_status": {
        "done": ("erledigt", "done"),
        "open": ("offen", "open"),
        "indicated": ("indiziert", "indicated"),
        "not_indicated": ("nicht indiziert", "not indicated"),
    },
    "height_kind": {
        "measured": ("gemessen", "measured"),
        "recalled_adult": ("größte erinnerte Erwachsenengröße", "tallest recalled adult height"),
    },
    "device": {
        "spinomed": ("Spinomed", "Spinomed"),
        "spinomed_active": ("Spinomed active", "Spinomed active"),
        "other_tlo": ("andere thorakolumbale Orthese", "other thoraco-lumbar orthosis"),
    },
    "visit": {
        "baseline": ("Ausgangswert", "Baseline"),
        "month_3": ("3 Monate", "3 months"),
        "month_6": ("6 Monate", "6 months"),
    },
    "sex": {"F": ("weiblich", "female"), "M": ("männlich", "male")},
    "menopause": {
        "pre": ("prämenopausal", "premenopausal"),
        "peri": ("perimenopausal", "perimenopausal"),
        "post": ("postmenopausal", "postmenopausal"),
    },
    "role": {
        "physician": ("Ärztin/Arzt", "Physician"),
        "therapist": ("Physiotherapeut/in", "Therapist"),
        "billing": ("Abrechnung", "Billing"),
        "admin": ("Administration", "Administrator"),
    },
    "region": {"lumbar": ("lumbal", "lumbar"), "cervical": ("zervikal", "cervical")},
    "insurance": {
        "statutory": ("gesetzlich", "statutory"),
        "private": ("privat", "private"),
        "self_payer": ("Selbstzahler", "self-payer"),
    },
    "decision": {
        "eligible": ("geeignet", "eligible"),
        "not_eligible": ("nicht geeignet", "not eligible"),
        "incomplete": ("unvollständig", "incomplete"),
    },
    "status": {
        "planned": ("geplant", "planned"),
        "active": ("aktiv", "active"),
        "running": ("läuft", "running"),
        "done": ("durchgeführt", "done"),
        "completed": ("abgeschlossen", "completed"),
        "aborted": ("abgebrochen", "aborted"),
        "cancelled": ("abgesagt", "cancelled"),
        "no_show": ("nicht erschienen", "no-show"),
        "draft": ("Entwurf", "draft"),
        "issued": ("gestellt", "issued"),
        "paid": ("bezahlt", "paid"),
    },
    "outcome_kind": {
        "nrs_before": ("Schmerz vorher (NRS)", "pain before (NRS)"),
        "nrs_after": ("Schmerz nachher (NRS)", "pain after (NRS)"),
        "odi": ("Oswestry (ODI)", "Oswestry (ODI)"),
    },
    "invoice_kind": {
        "invoice": ("Rechnung", "invoice"),
        "credit_note": ("Gutschrift", "credit note"),
    },
    # the session's recorded events (runtime/recorder.py), as the history lists them
    "event": {
        "guarding_onset": ("Beginn der Abwehrspannung", "onset of guarding"),
        "fault": ("Störung", "fault"),
        "stop": ("Stopp", "stop"),
        "session_end": ("Sitzungsende", "end of session"),
        "pause": ("Pause", "pause"),
        "resume": ("fortgesetzt", "resumed"),
        "emg_status": ("EMG", "EMG"),
    },
    # latched faults (therapy/safety.py FaultKind)
    "fault": {
        "stale_reading": ("Messwerte veraltet", "readings stale"),
        "out_of_range": ("Messwert außerhalb des Messbereichs", "reading out of range"),
        "stuck_load_cell": ("Kraftsensor hängt", "load cell stuck"),
        "force_jump": ("Kraftsprung", "force jump"),
        "encoder_jump": ("Wegsensor springt", "encoder jump"),
        "harness_slip": ("Gurt rutscht", "harness slipping"),
        "actuator_stall": ("Antrieb blockiert", "actuator stalled"),
        "overforce": ("Kraft über dem Grenzwert", "force above the limit"),
        "controller_exception": ("Fehler in der Regelung", "controller error"),
        "loop_overrun": ("Regelschleife zu spät", "control loop late"),
        "device_refused": ("Tisch lehnt Befehl ab", "table refused a command"),
        "device_fault": ("Tisch meldet Störung", "table reports a fault"),
        "tick_exception": ("interner Fehler", "internal error"),
    },
    # the audit log's records (table names) and actions
    "entity": {
        "patients": ("Patient/in", "patient"),
        "screening_findings": ("Screening-Befund", "screening finding"),
        "screening": ("Screening-Entscheidung", "screening decision"),
        "bmd_measurements": ("Knochendichtemessung", "bone density measurement"),
        "vertebral_fractures": ("Wirbelfraktur", "vertebral fracture"),
        "fractures": ("Fraktur", "fracture"),
        "courses": ("Behandlungsserie", "course"),
        "sessions": ("Sitzung", "session"),
        "outcomes": ("Verlaufsparameter", "outcomes"),
        "invoices": ("Rechnung", "invoice"),
        "users": ("Benutzer", "user"),
        "orthosis_prescriptions": ("Orthesenverordnung", "orthosis prescription"),
        "orthosis_followups": ("Orthesen-Kontrolle", "orthosis follow-up"),
        "osteoporosis_risk_factors": ("Osteoporose-Risikofaktor", "osteoporosis risk factor"),
        "drug_therapies": ("Medikamentöse Therapie", "drug therapy"),
        "height_measurements": ("Körpergröße", "height"),
        "posture_recordings": ("Haltungsaufzeichnung", "posture recording"),
        "settings": ("Einstellungen", "settings"),
    },
    "action": {
        "create": ("angelegt", "created"),
        "insert": ("angelegt", "created"),
        "update": ("geändert", "changed"),
        "delete": ("gelöscht", "deleted"),
        "screen": ("Screening", "screening"),
        "login": ("Anmeldung", "login"),
        "logout": ("Abmeldung", "logout"),
    },
}


def _risk_factor_labels() -> dict[str, tuple[str, str]]:
    from spinecare.clinical.bone import SEED_RISK_FACTORS

    return {r.code: (RISK_FACTORS_DE.get(r.code, r.text), r.text) for r in SEED_RISK_FACTORS}


def _lang_index(lang: str) -> int:
    return 0 if lang != "en" else 1


def label(kind: str, value: object, lang: str) -> str:
    """The reader's word for a code value (``lumbar_spine`` -> "Lendenwirbelsäule (L1–L4)");
    an unknown value is shown as it is."""
    if value is None:
        return "—"
    raw = value.value if isinstance(value, enum.Enum) else value
    text = str(raw)
    entry = LABELS.get(kind, {}).get(text)
    return entry[_lang_index(lang)] if entry else text


def de_number(value: str) -> str:
    """A number as German writes it: a decimal comma."""
    return value.replace(".", ",")


def _de_date(iso: str) -> str:
    y, m, d = iso.split("-")
    return f"{d}.{m}.{y}"


def _patterns(
    table: list[tuple[str, Callable[[re.Match[str]], str]]],
) -> list[tuple[re.Pattern[str], Callable[[re.Match[str]], str]]]:
    return [(re.compile(p), f) for p, f in table]


def _by_patterns(
    text: str, table: list[tuple[re.Pattern[str], Callable[[re.Match[str]], str]]]
) -> str | None:
    for pattern, make in table:
        m = pattern.fullmatch(text)
        if m is not None:
            return make(m)
    return None


# --- osteoporosis follow-up (clinical/osteoporosis_followup.py, clinical/bone.py) -----------
RISK_FACTORS_DE: dict[str, str] = {
    "family_history": "Osteoporose in der Familie",
    "hormone_deficiency": "Hormonmangel (verminderte Bildung von Geschlechtshormonen)",
    "medication": "Einnahme von Cortison, Heparin oder Mitteln gegen Epilepsie",
    "low_calcium_vitamin_d": "Ernährung arm an Calcium und Vitamin D",
    "low_sunlight": "Wenig Aufenthalt im Sonnenlicht",
    "immobilisation": "Längere Immobilisation und Bettruhe",
    "sedentary": "Bewegungsmangel",
    "smoking": "Rauchen",
    "alcohol": "Übermäßiger Alkoholkonsum",
    "rheumatic_endocrine_liver": "Bestimmte rheumatische, hormonelle und Lebererkrankungen",
}

LABELS["risk_factor"] = _risk_factor_labels()

WORKUP_DE: dict[str, str] = {
    "history": "Anamnese mit Frakturrisikofaktoren",
    "examination": "Klinische Untersuchung (Körpergröße, Kyphose, Hinweise auf Frakturen)",
    "dxa": "DXA-Knochendichtemessung (Lendenwirbelsäule und Hüfte)",
    "laboratory": "Basislabor (nach einer Fraktur, zum Ausschluss sekundärer Ursachen)",
    "spine_imaging": "Bildgebung der Wirbelsäule bei klinischen Hinweisen auf Wirbelfrakturen",
}

_HEIGHT_LOSS = _patterns(
    [
        (
            r"height loss ([\d.]+) cm since the tallest adult height \(>= 4 cm\)",
            lambda m: (
                f"Größenverlust {de_number(m[1])} cm gegenüber der größten Erwachsenengröße "
                "(ab 4 cm)"
            ),
        ),
        (
            r"height loss ([\d.]+) cm between follow-ups \(>= 2 cm\)",
            lambda m: f"Größenverlust {de_number(m[1])} cm zwischen den Kontrollen (ab 2 cm)",
        ),
    ]
)

_WORKUP_DETAIL = _patterns(
    [
        (
            r"(\d+) of (\d+) risk factors answered",
            lambda m: f"{m[1]} von {m[2]} Risikofaktoren beantwortet",
        ),
        (r"height measured", lambda m: "Körpergröße gemessen"),
        (r"no height measured", lambda m: "keine Körpergröße gemessen"),
        (r"last DXA (\d{4}-\d\d-\d\d)", lambda m: f"letzte DXA am {_de_date(m[1])}"),
        (r"no DXA recorded", lambda m: "keine DXA erfasst"),
        (
            r"results are kept in the laboratory system, not here",
            lambda m: "die Befunde stehen im Laborsystem, nicht hier",
        ),
        (
            r"(\d+) vertebral fracture\(s\) on record",
            lambda m: f"{m[1]} Wirbelfraktur(en) erfasst",
        ),
        (
            r"no height loss on record that calls for it",
            lambda m: "kein Größenverlust erfasst, der sie erfordert",
        ),
    ]
)


def risk_factor_text(code: str, text: str, lang: str) -> str:
    return RISK_FACTORS_DE.get(code, text) if lang == "de" else text


def workup_text(code: str, text: str, lang: str) -> str:
    return WORKUP_DE.get(code, text) if lang == "de" else text


def workup_detail(detail: str, lang: str) -> str:
    """A work-up item's detail; several height-loss reasons are joined by '; '."""
    if lang != "de":
        return detail
    parts = [
        _by_patterns(p, _WORKUP_DETAIL) or _by_patterns(p, _HEIGHT_LOSS) or p
        for p in detail.split("; ")
    ]
    return "; ".join(parts)


def height_loss_reason(text: str, lang: str) -> str:
    return (_by_patterns(text, _HEIGHT_LOSS) or text) if lang == "de" else text


_NUTRITION_DE = {
    "total intake, from food first; supplement only the shortfall (DVO; NOF)": (
        "Gesamtzufuhr, vorrangig über die Nahrung; nur den Fehlbetrag ergänzen (DVO; NOF)"
    ),
    "800-1000 IU/day from age 50 (DVO; NOF)": "800–1000 IE/Tag ab 50 Jahren (DVO; NOF)",
    "no routine supplement under 50; sunlight exposure (DVO)": (
        "unter 50 Jahren keine routinemäßige Ergänzung; Aufenthalt im Sonnenlicht (DVO)"
    ),
}


def nutrition_note(text: str, lang: str) -> str:
    return _NUTRITION_DE.get(text, text) if lang == "de" else text


DRUG_NOTE_DE = (
    "Die medikamentöse Therapie wird so erfasst, wie die behandelnde Ärztin oder der behandelnde "
    "Arzt sie verordnet hat; spinecare verordnet oder empfiehlt selbst kein Medikament."
)


def drug_note(text: str, lang: str) -> str:
    return DRUG_NOTE_DE if lang == "de" and text.startswith("Drug therapy is recorded") else text


_DVO = re.compile(
    r"T-score ([+-]?[\d.]+) at or below the DVO 2017 threshold ([+-]?[\d.]+) for age and sex: "
    r"drug treatment is for the treating physician to decide"
)


def dvo_note(text: str, lang: str) -> str:
    m = _DVO.fullmatch(text)
    if lang != "de" or m is None:
        return text
    return (
        f"T-Wert {de_number(m[1])} auf oder unter der DVO-Schwelle 2017 von {de_number(m[2])} "
        "für Alter und Geschlecht: über eine medikamentöse Therapie entscheidet die behandelnde "
        "Ärztin oder der behandelnde Arzt"
    )


# --- the orthosis trials (clinical/orthosis.py EVIDENCE) ------------------------------------
# The descriptive texts in German, by their English wording; citations stay as published.
# German for clinical/orthosis.py's trial texts, which cite [pfeifer2004], [pfeifer2011],
# [kaijser-alin2019] and [dvo2017]; the sentences translate theirs and add no figure.
TRIAL_TEXTS_DE: dict[str, str] = {
    "randomised controlled trial, orthosis vs no orthosis": (
        "randomisierte kontrollierte Studie, Orthese gegen keine Orthese"
    ),
    "randomised trial comparing two orthoses": "randomisierte Studie, zwei Orthesen im Vergleich",
    "randomised controlled trial, orthosis vs training vs control (3 arms)": (
        "randomisierte kontrollierte Studie, Orthese gegen Gerätetraining gegen Kontrolle "
        "(3 Gruppen)"
    ),
    "funded by the manufacturer (medi)": "vom Hersteller (medi) finanziert",
    "academic trial (Karolinska Institutet primary care), not run by the maker": (
        "akademische Studie (Karolinska Institutet, Primärversorgung), nicht vom Hersteller "
        "durchgeführt"
    ),
    "improvements in the orthosis group after 6 months": (
        "Verbesserungen in der Orthesengruppe nach 6 Monaten"
    ),
    "both orthoses improved; no significant difference between the two models": (
        "Verbesserung mit beiden Orthesen; kein signifikanter Unterschied zwischen den beiden "
        "Modellen"
    ),
    "no significant difference between groups in back pain, back extensor strength or "
    "kyphosis index after 6 months (ITT and per protocol); within-group back extensor "
    "strength +26.9% orthosis, +22.1% training, +9.9% control": (
        "nach 6 Monaten kein signifikanter Unterschied zwischen den Gruppen bei Rückenschmerz, "
        "Kraft der Rückenstrecker oder Kyphose-Index (ITT und per Protokoll); Kraft der "
        "Rückenstrecker innerhalb der Gruppen +26,9 % Orthese, +22,1 % Training, +9,9 % Kontrolle"
    ),
    "Spinomed (activating orthosis)": "Spinomed (aktivierende Orthese)",
    "Two maker-funded randomised trials (Pfeifer 2004, 2011) report gains in trunk "
    "strength and reductions in pain, kyphosis and sway over 6 months; an independent three-arm "
    "trial (Kaijser Alin 2019, n=113) found no difference against training or no treatment. "
    "DVO 2017 suggests considering an orthosis for low-pain mobilisation.": (
        "Zwei vom Hersteller finanzierte randomisierte Studien (Pfeifer 2004, 2011) berichten "
        "über 6 Monate mehr Rumpfkraft sowie weniger Schmerz, Kyphose und Körperschwankung; eine "
        "unabhängige Studie mit drei Gruppen (Kaijser Alin 2019, n=113) fand keinen Unterschied "
        "gegenüber Training oder keiner Behandlung. Die DVO-Leitlinie 2017 empfiehlt, eine "
        "Orthese zur schmerzarmen Mobilisierung zu erwägen."
    ),
    # signals/posture.py ACCURACY_STATEMENT
    "Angles are the inclination of one sensor on the upper back relative to the calibrated "
    "upright posture: a proxy of posture, not a radiographic measure. The thoracic inclination "
    "is not a kyphosis angle; at best it is comparable to a Debrunner kyphometer, which differs "
    "from radiographs by about 10 degrees. Wear time is inferred from motion: a worn sensor "
    "that stays perfectly still for a minute counts as off.": (
        "Die Winkel sind die Neigung eines Sensors am oberen Rücken gegenüber der kalibrierten "
        "aufrechten Haltung: ein Näherungswert für die Haltung, keine Röntgenmessung. Die "
        "thorakale Neigung ist kein Kyphosewinkel; bestenfalls ist sie mit einem Kyphometer nach "
        "Debrunner vergleichbar, das etwa 10 Grad vom Röntgenbild abweicht. Die Tragezeit wird "
        "aus der Bewegung abgeleitet: ein getragener Sensor, der eine Minute völlig still liegt, "
        "gilt als abgelegt."
    ),
}


def clinical_text(text: str, lang: str) -> str:
    """A fixed clinical sentence (a trial's design, funding or summary, the evidence summary,
    the posture sensor's accuracy) in the reader's language."""
    return TRIAL_TEXTS_DE.get(text, text) if lang == "de" else text


ARMS_DE: dict[str, str] = {
    "Spinomed (activating orthosis)": "Spinomed (aktivierende Orthese)",
    "equipment training": "Gerätetraining",
    "control": "Kontrolle",
}


def trial_label(text: str, lang: str) -> str:
    """``Kaijser Alin 2019, Spinomed (activating orthosis)`` ([kaijser-alin2019]): the arm in
    German (a label without an arm is returned as it is)."""
    if lang != "de":
        return text
    for en, de in ARMS_DE.items():
        for end in (en, en + ")"):
            if text.endswith(", " + end) or text.endswith("(" + end):
                return text.removesuffix(end) + end.replace(en, de)
    return text


def device_text(text: str, lang: str) -> str:
    """The orthosis as the services name it (``DEVICE_NAMES``)."""
    if lang != "de":
        return text
    return text.replace("thoraco-lumbar orthosis", "thorakolumbale Orthese")


def patient_ref(text: str, lang: str) -> str:
    """``patient 4`` as a document names the patient."""
    m = re.fullmatch(r"patient (\d+)", text)
    return f"Patient/in {m[1]}" if lang == "de" and m else text


# --- contraindication findings and the orthosis reasons (clinical/contraindications.py,
# clinical/orthosis.py) -----------------------------------------------------------------------
_FINDINGS = _patterns(
    [
        (r"pregnant", lambda m: "schwanger"),
        (
            r"female patient of child-bearing potential",
            lambda m: "Patientin im gebärfähigen Alter",
        ),
        (r"not recorded", lambda m: "nicht erfasst"),
        (
            r"needed: is it in the treated section\?",
            lambda m: "fehlt: liegt es im Behandlungsabschnitt?",
        ),
        (
            r"surgery date needed to tell recent from old",
            lambda m: "Operationsdatum fehlt (frisch oder länger her?)",
        ),
        (r"fracture history not taken", lambda m: "Frakturanamnese nicht erhoben"),
        (
            r"vertebral compression fracture within one year: (.+)",
            lambda m: "Wirbelkompressionsfraktur innerhalb eines Jahres: " + _fracture_list(m[1]),
        ),
        (
            r"vertebral compression fracture within (\d+) days: (.+)",
            lambda m: (
                f"Wirbelkompressionsfraktur innerhalb von {m[1]} Tagen: " + _fracture_list(m[2])
            ),
        ),
        (
            r"compression fracture on (\d{4}-\d\d-\d\d) \((\d+) days\)",
            lambda m: f"Kompressionsfraktur am {_de_date(m[1])} (vor {m[2]} Tagen)",
        ),
        (
            r"age (\d+) on (\d{4}-\d\d-\d\d) \(under (\d+)\)",
            lambda m: f"Alter {m[1]} am {_de_date(m[2])} (unter {m[3]})",
        ),
        (
            r"fresh vertebral fracture (\S+) (\d{4}-\d\d-\d\d) \((\d+) days; fresh = up to (\d+)\)",
            lambda m: (
                f"frische Wirbelfraktur {m[1]} am {_de_date(m[2])} (vor {m[3]} Tagen; frisch = "
                f"bis {m[4]} Tage)"
            ),
        ),
        (
            r"bone loss ([\d.]+)% at (\w+) \(T ([+-][\d.]+); more than ([\d.]+)%\)",
            lambda m: (
                f"Knochenverlust {de_number(m[1])} % an {label('bmd_site', m[2], 'de')} "
                f"(T {de_number(m[3])}; mehr als {de_number(m[4])} %)"
            ),
        ),
        (
            r"spinal surgery on (\d{4}-\d\d-\d\d) \((\d+) days; recent = up to (\d+)\)",
            lambda m: (
                f"Wirbelsäulenoperation am {_de_date(m[1])} (vor {m[2]} Tagen; frisch = bis "
                f"{m[3]} Tage)"
            ),
        ),
        (
            r"scoliosis Cobb angle ([\d.]+) deg \(>= ([\d.]+)\)",
            lambda m: f"Skoliose, Cobb-Winkel {de_number(m[1])}° (ab {de_number(m[2])}°)",
        ),
        (
            r"(\S+) recorded present(?: \((\w+)\))?(?: on (\d{4}-\d\d-\d\d))?(?: - (.*))?",
            lambda m: (
                "als vorhanden erfasst"
                + (f" ({label('region', m[2], 'de')})" if m[2] else "")
                + (f" am {_de_date(m[3])}" if m[3] else "")
                + (f" – {m[4]}" if m[4] else "")
            ),
        ),
        (
            r"osteoporotic vertebral fracture (\S+) \((\d{4}-\d\d-\d\d)\)",
            lambda m: f"osteoporotische Wirbelfraktur {m[1]} ({_de_date(m[2])})",
        ),
        (
            r"vertebral compression fracture (\S+) \((\d{4}-\d\d-\d\d)\) with osteoporosis",
            lambda m: f"Wirbelkompressionsfraktur {m[1]} ({_de_date(m[2])}) bei Osteoporose",
        ),
        (
            r"no osteoporotic vertebral fracture recorded",
            lambda m: "keine osteoporotische Wirbelfraktur erfasst",
        ),
    ]
)
_FRACTURE = re.compile(r"(\S+) (\d{4}-\d\d-\d\d) \((\d+) days\)")


def _fracture_list(text: str) -> str:
    return _FRACTURE.sub(lambda m: f"{m[1]} {_de_date(m[2])} (vor {m[3]} Tagen)", text)


def finding_text(text: str, lang: str) -> str:
    """A contraindication's finding or an orthosis reason in the reader's language."""
    if lang != "de":
        return text
    return _by_patterns(text, _FINDINGS) or text


# --- why a session ended (runtime/session.py, web/pages.py) ---------------------------------
_STOP_DE = _patterns(
    [
        (r"stop on the monitor \((.+)\)", lambda m: f"Stopp am Monitor ({m[1]})"),
        (r"patient stop button", lambda m: "Stopptaste des Patienten"),
        (r"patient stop", lambda m: "Stopp durch den Patienten"),
        (r"patient stop \(Ctrl-C\)", lambda m: "Stopp durch den Patienten (Strg-C)"),
        (r"server gone", lambda m: "Server nicht mehr erreichbar"),
        (r"server shutdown", lambda m: "Server heruntergefahren"),
        (
            r"the session did not get ready in time",
            lambda m: "Sitzung wurde nicht rechtzeitig bereit",
        ),
        (r"terminated \((\w+)\)", lambda m: f"beendet ({m[1]})"),
    ]
)
_END_EN = {"completed": "completed as planned"}


_NUM = r"([+-]?[\d.]+)"
# A fault's detail as the safety policy words it (therapy/safety.py, fault_detail; "tick N took
# M ms" from older recordings), in German.
_FAULT_DETAIL_DE = _patterns(
    [
        (rf"tick gap {_NUM} ms", lambda m: f"{de_number(m[1])} ms zwischen zwei Takten"),
        (rf"tick (\d+) took {_NUM} ms", lambda m: f"Takt {m[1]} dauerte {de_number(m[2])} ms"),
        (rf"reading {_NUM} ms old", lambda m: f"Messwert {de_number(m[1])} ms alt"),
        (rf"encoder {_NUM} mm", lambda m: f"Weggeber {de_number(m[1])} mm"),
        (rf"load cell {_NUM} N", lambda m: f"Kraftsensor {de_number(m[1])} N"),
        (
            rf"{_NUM} N above the limit of {_NUM} N",
            lambda m: f"{de_number(m[1])} N über der Grenze von {de_number(m[2])} N",
        ),
        (rf"load cell frozen at {_NUM} N", lambda m: f"Kraftsensor steht bei {de_number(m[1])} N"),
        (rf"load-cell spike of {_NUM} N", lambda m: f"Kraftspitze von {de_number(m[1])} N"),
        (
            rf"force changed {_NUM} N in one tick",
            lambda m: f"Kraft änderte sich um {de_number(m[1])} N in einem Takt",
        ),
        (
            rf"encoder moved {_NUM} mm in one tick",
            lambda m: f"Weggeber bewegte sich um {de_number(m[1])} mm in einem Takt",
        ),
        (
            rf"force fell {_NUM} N with the winch holding",
            lambda m: f"Kraft fiel um {de_number(m[1])} N bei stehender Winde",
        ),
        (
            rf"tracking error {_NUM} N, winch still",
            lambda m: f"Regelabweichung {de_number(m[1])} N, Winde steht",
        ),
        (r"table reports a fault", lambda m: "der Tisch meldet eine Störung"),
        (r"table not active", lambda m: "der Tisch ist nicht aktiv"),
        # runtime/guard.py and runtime/session.py: the exception itself stays as raised
        (r"read failed: (.+)", lambda m: f"Lesen fehlgeschlagen: {m[1]}"),
        (r"write failed: (.+)", lambda m: f"Schreiben fehlgeschlagen: {m[1]}"),
        (r"loop ended: (.+)", lambda m: f"Regelschleife beendet: {m[1]}"),
        (r"runtime: (.+)", lambda m: f"Laufzeit: {m[1]}"),
    ]
)


def fault_detail(text: str, lang: str) -> str:
    """A fault's measured detail (``tick gap 45 ms``) in the document's language."""
    if lang != "de":
        return text
    return _by_patterns(text, _FAULT_DETAIL_DE) or text


def stop_reason(text: str, lang: str) -> str:
    """A stop's reason (``stop on the monitor (th)``)."""
    if lang != "de":
        return text
    return _by_patterns(text, _STOP_DE) or text


def end_reason(text: str | None, lang: str) -> str:
    """Why a session ended: ``completed``, ``stopped: <reason>``, ``fault: <kinds>``,
    ``aborted: ...``, perhaps with the table's missing full release."""
    if not text:
        return ""
    de = lang == "de"
    tail = ""
    suffix = " (table did not report a full release)"
    if text.endswith(suffix):
        text = text.removesuffix(suffix)
        tail = " (Tisch meldete keine vollständige Entlastung)" if de else suffix
    head, _, rest = text.partition(": ")
    if text == "completed":
        out = "regulär beendet" if de else _END_EN[text]
    elif head == "stopped":
        out = ("gestoppt: " if de else "stopped: ") + stop_reason(rest, lang)
    elif head == "fault":
        kinds = ", ".join(label("fault", k, lang) for k in rest.split(", "))
        out = ("Störung: " if de else "fault: ") + kinds
    elif head == "aborted":
        out = "abgebrochen: die Regelung endete vor der Sitzung" if de else text
    else:
        out = text
    return out + tail
