"""Which FHIR R4 elements repeat, for turning FHIR XML into FHIR JSON and back.

FHIR XML does not say whether an element is a list; FHIR JSON does. The
converter needs that only for the resources a discharge message carries, so
this is a small table rather than the full StructureDefinitions: elements that
repeat wherever they appear, and ``Type.path`` elements that repeat in one
resource type. An element not listed is single when it appears once and a
list when it appears more often (the JSON reader then reports it as wrong
where it reads it).
"""

from __future__ import annotations

REPEATING_EVERYWHERE = frozenset(
    {
        "extension",
        "modifierExtension",
        "contained",
        "coding",
        "given",
        "prefix",
        "suffix",
        "line",
        "entry",
        "link",
        "profile",
        "security",
        "tag",
        "dayOfWeek",
        "timeOfDay",
        "when",
    }
)

_BY_TYPE = {
    "Patient": "identifier name telecom address contact contact.relationship contact.telecom communication "
    "generalPractitioner photo",
    "Practitioner": "identifier name telecom address photo qualification communication",
    "PractitionerRole": "identifier specialty code location healthcareService telecom availableTime notAvailable "
    "endpoint",
    "Organization": "identifier type alias telecom address contact contact.telecom endpoint",
    "Location": "identifier alias type telecom endpoint hoursOfOperation",
    "Encounter": "identifier statusHistory classHistory type episodeOfCare basedOn participant participant.type "
    "reasonCode reasonReference diagnosis account location hospitalization.dietPreference "
    "hospitalization.specialCourtesy hospitalization.specialArrangement",
    "MessageHeader": "destination focus",
    "Consent": "identifier category performer organization policy verification provision.actor provision.action "
    "provision.securityLabel provision.purpose provision.class provision.code provision.data provision.provision",
    "Observation": "identifier basedOn partOf category focus performer interpretation note referenceRange hasMember "
    "derivedFrom component component.interpretation component.referenceRange",
    "OperationOutcome": "issue issue.location issue.expression",
    "Appointment": "identifier serviceCategory serviceType specialty reasonCode reasonReference supportingInformation "
    "slot basedOn participant participant.type requestedPeriod",
}
REPEATING_IN = frozenset(f"{rtype}.{path}" for rtype, paths in _BY_TYPE.items() for path in paths.split())

BOOLEAN_ELEMENTS = frozenset({"active", "valueBoolean", "deceasedBoolean", "multipleBirthBoolean", "preferred"})
INTEGER_ELEMENTS = frozenset(
    {
        "valueInteger",
        "valuePositiveInt",
        "valueUnsignedInt",
        "rank",
        "frequency",
        "frequencyMax",
        "count",
        "countMax",
        "multipleBirthInteger",
        "minutesDuration",
        "priority",
        "total",
    }
)
DECIMAL_ELEMENTS = frozenset({"valueDecimal", "period", "periodMax", "duration", "durationMax"})


def repeats(resource_type: str, element_path: str, name: str) -> bool:
    """True when element ``name`` at ``element_path`` (dotted, no indexes) of ``resource_type`` is a list."""
    return name in REPEATING_EVERYWHERE or f"{resource_type}.{element_path}" in REPEATING_IN


def json_primitive(name: str, text: str) -> bool | int | float | str:
    """The JSON value of primitive element ``name`` written ``text`` in XML (strings stay strings when unsure)."""
    if name in BOOLEAN_ELEMENTS and text in ("true", "false"):
        return text == "true"
    if name in INTEGER_ELEMENTS:
        try:
            return int(text)
        except ValueError:
            return text
    if name in DECIMAL_ELEMENTS:
        try:
            number = float(text)
        except ValueError:
            return text
        return int(number) if number.is_integer() and "." not in text else number
    return text
