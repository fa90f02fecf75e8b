"""SQLAlchemy models, one module per table."""

from licensor.models.activation_request import ActivationRequest
from licensor.models.api_key import ApiKey
from licensor.models.audit_event import AuditChainHead, AuditEvent
from licensor.models.business import Business, User
from licensor.models.customer import Customer
from licensor.models.email_job import EmailJob
from licensor.models.hot_version import HotVersion
from licensor.models.idempotency_key import IdempotencyKey
from licensor.models.import_run import ImportRun
from licensor.models.instance_key import InstanceKey
from licensor.models.license_desk import (
    ActivationCode,
    CloudInstance,
    DeskLicense,
    LicenseNote,
    SeatLink,
)
from licensor.models.license_key import LicenseKey
from licensor.models.license_key_instance import LicenseKeyInstance
from licensor.models.mail_settings import MailSettings
from licensor.models.member_token import MemberToken
from licensor.models.org_member import OrgMember
from licensor.models.plan import Plan
from licensor.models.product import Product
from licensor.models.signing_key import SigningKey
from licensor.models.staff_member import StaffMember
from licensor.models.staff_session import StaffSession
from licensor.models.subscription import Subscription
from licensor.models.webhook_delivery import WebhookAttempt, WebhookDelivery
from licensor.models.webhook_endpoint import WebhookEndpoint

__all__ = [
    "ActivationCode",
    "ActivationRequest",
    "ApiKey",
    "AuditChainHead",
    "AuditEvent",
    "Business",
    "CloudInstance",
    "Customer",
    "DeskLicense",
    "EmailJob",
    "HotVersion",
    "IdempotencyKey",
    "ImportRun",
    "InstanceKey",
    "LicenseKey",
    "LicenseKeyInstance",
    "LicenseNote",
    "MailSettings",
    "MemberToken",
    "OrgMember",
    "Plan",
    "Product",
    "SeatLink",
    "SigningKey",
    "StaffMember",
    "StaffSession",
    "Subscription",
    "User",
    "WebhookAttempt",
    "WebhookDelivery",
    "WebhookEndpoint",
]
