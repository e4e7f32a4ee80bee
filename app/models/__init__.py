"""Every model, imported so that the metadata (and Alembic) sees every table."""

from app.models.api_key import ApiKey, ApiRequest
from app.models.audit import AuditEvent
from app.models.company import Company, CompanyKind, CompanyTree
from app.models.email import Email, EmailKind, EmailState
from app.models.heartbeat import Heartbeat, PeriodicRun
from app.models.imports import ImportBatch, ImportKind, ImportRow, ImportStatus
from app.models.learner import Learner
from app.models.license import License, Selection, SelectionMember
from app.models.order import LicenseType, Order, OrderPerson, OrderStatus
from app.models.reminder_schedule import (
    ReminderCheck,
    ReminderPart,
    ReminderRun,
    ReminderSchedule,
    ReminderScheduleStep,
)
from app.models.setting import AppSetting
from app.models.user import AppUser, UserSession
from app.models.webhook import DeliveryState, Webhook, WebhookDelivery, WebhookEvent

__all__ = [
    "ApiKey",
    "ApiRequest",
    "AuditEvent",
    "Email",
    "EmailKind",
    "EmailState",
    "Heartbeat",
    "PeriodicRun",
    "LicenseType",
    "Order",
    "OrderPerson",
    "OrderStatus",
    "AppSetting",
    "ReminderCheck",
    "ReminderPart",
    "ReminderRun",
    "ReminderSchedule",
    "ReminderScheduleStep",
    "AppUser",
    "UserSession",
    "Company",
    "CompanyKind",
    "CompanyTree",
    "ImportBatch",
    "ImportKind",
    "ImportRow",
    "ImportStatus",
    "Learner",
    "License",
    "Selection",
    "SelectionMember",
    "DeliveryState",
    "Webhook",
    "WebhookDelivery",
    "WebhookEvent",
]
