"""Identifier systems, code systems, extension URLs and code tables the FHIR adapter reads and writes.

UK Core (HL7 UK) and NHS England systems are published; the ``HUB_*`` URLs are
the hub's own extensions for what UK Core has no element for (housing
situation, chosen housing authority, support and employment wishes, Mental
Health Act status, how a consent was recorded). They are documented in
``docs/partners/nhs-fhir.md``.
"""

from __future__ import annotations

FHIR_NS = "http://hl7.org/fhir"
XHTML_NS = "http://www.w3.org/1999/xhtml"

NHS_NUMBER = "https://fhir.nhs.uk/Id/nhs-number"
ODS_ORGANIZATION = "https://fhir.nhs.uk/Id/ods-organization-code"
ODS_SITE = "https://fhir.nhs.uk/Id/ods-site-code"
SPINE_DIRECTORY_ORGANIZATION = "https://directory.spineservices.nhs.uk/Organization/"
RFC3986 = "urn:ietf:rfc:3986"

UKCORE_SD = "https://fhir.hl7.org.uk/StructureDefinition/"
UKCORE_CS = "https://fhir.hl7.org.uk/CodeSystem/"

EXT_NHS_NUMBER_VERIFICATION = UKCORE_SD + "Extension-UKCore-NHSNumberVerificationStatus"
CS_NHS_NUMBER_VERIFICATION = (
    UKCORE_CS + "UKCore-NHSNumberVerificationStatusEngland",
    UKCORE_CS + "UKCore-NHSNumberVerificationStatus",
)
NHS_NUMBER_STATUSES = ("01", "02", "03", "04", "05", "06", "07", "08")

EXT_DISCHARGE_METHOD = UKCORE_SD + "Extension-UKCore-DischargeMethod"
CS_DISCHARGE_METHOD_ENGLAND = UKCORE_CS + "UKCore-DischargeMethodEngland"
CS_DISCHARGE_METHOD_WALES = UKCORE_CS + "UKCore-DischargeMethodWales"
DISCHARGE_METHODS = {
    CS_DISCHARGE_METHOD_ENGLAND: frozenset("13456789"),
    CS_DISCHARGE_METHOD_WALES: frozenset("123458"),
}

CS_DISCHARGE_DESTINATION_ENGLAND = UKCORE_CS + "UKCore-DischargeDestinationEngland"
DISCHARGE_DESTINATIONS = frozenset(
    [
        "19",
        "29",
        "30",
        "37",
        "38",
        "48",
        "49",
        "50",
        "51",
        "52",
        "53",
        "54",
        "65",
        "66",
        "79",
        "84",
        "85",
        "87",
        "88",
        "98",
        "99",
    ]
)  # UK Core DischargeDestinationEngland 1.0.1 (NHS Data Dictionary)

EXT_CONTACT_PREFERENCE = UKCORE_SD + "Extension-UKCore-ContactPreference"
PREFERRED_CONTACT = {"1": "post", "2": "in_person", "3": "phone", "4": "email", "9": "phone"}

GENDERS = ("male", "female", "other", "unknown")

# Encounter.status -> canonical discharge.planned (True: the date is a plan).
PLANNED_BY_STATUS = {
    "planned": True,
    "arrived": True,
    "triaged": True,
    "in-progress": True,
    "onleave": True,
    "finished": False,
}

HUB_BASE = "https://hub.invalid/fhir/"
HUB_SD = HUB_BASE + "StructureDefinition/"
HUB_CS = HUB_BASE + "CodeSystem/"
EXT_HOUSING = HUB_SD + "Extension-Hub-HousingNeed"
EXT_SUPPORT = HUB_SD + "Extension-Hub-SupportNeed"
EXT_EMPLOYMENT = HUB_SD + "Extension-Hub-Employment"
EXT_LEGAL_STATUS = HUB_SD + "Extension-Hub-MentalHealthActStatus"
EXT_CONSENT_RECORD = HUB_SD + "Extension-Hub-ConsentRecord"
EXT_ACK_LEVEL = HUB_SD + "Extension-Hub-AcknowledgementLevel"
EXT_RECEIVER_REF = HUB_SD + "Extension-Hub-ReceiverReference"
EXT_CORRELATION = HUB_SD + "Extension-Hub-Correlation"
EXT_APPOINTMENT_STATUS = HUB_SD + "Extension-Hub-HousingAppointmentStatus"
EXT_APPOINTMENT_MODE = HUB_SD + "Extension-Hub-AppointmentMode"
EXT_PATHWAY_MILESTONE = HUB_SD + "Extension-Hub-PathwayMilestone"
CS_CONSENT_KIND = HUB_CS + "hub-consent-kind"
CS_MESSAGE_EVENT = HUB_CS + "hub-message-event"
CS_REASON = HUB_CS + "hub-reason"
CS_HOUSING_STATUS = HUB_CS + "hub-housing-status"
CS_PATHWAY_NOTICE = HUB_CS + "hub-pathway-notice"
CS_PATHWAY_MILESTONE = HUB_CS + "hub-pathway-milestone"
CS_REFERRAL_STEP = HUB_CS + "hub-referral-step"
CS_DECLINE_REASON = HUB_CS + "hub-offer-decline-reason"
CS_NAVIGATOR_QUEUE_REASON = HUB_CS + "hub-navigator-queue-reason"
CS_REFERRAL_CLOSE_REASON = HUB_CS + "hub-referral-close-reason"
ID_GSS = HUB_BASE + "Id/ons-gss-code"
ID_CASE_REF = HUB_BASE + "Id/council-case-ref"
ID_ORG = HUB_BASE + "Id/org-id"
ID_MESSAGE = HUB_BASE + "Id/message-id"
ID_PATHWAY_TIMER = HUB_BASE + "Id/pathway-timer"

CONSENT_KINDS = {"duty-to-refer": "referral", "share-contact-details": "share_contact"}
CONSENT_METHODS = ("oral", "written")
ACCOMMODATION_STATUSES = (
    "no_fixed_abode",
    "threatened_within_56_days",
    "housed",
    "temporary_accommodation",
    "unknown",
)
EMPLOYMENT_STATUSES = ("unemployed", "employed", "self_employed", "in_education", "volunteering", "not_known")

# Acknowledgement.status -> MessageHeader.response.code
RESPONSE_CODES = {"received": "ok", "accepted": "ok", "error": "transient-error", "rejected": "fatal-error"}
