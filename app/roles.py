"""Roles as data (Flask-AppBuilder builtin roles, matched by regular expression).

Permissions are checked against these patterns at request time, so no permission
rows need to be written at start-up. A manager's role follows its company's kind:
managers of a partner or sub-partner are Account Managers, managers of a customer
are Customer Managers (see services/managers.py).
"""

ROLE_ADMIN = "Admin"
ROLE_ACCOUNT_MANAGER = "Account Manager"
ROLE_CUSTOMER_MANAGER = "Customer Manager"
ROLE_PUBLIC = "Public"


def _grant(views: str, permissions: str) -> list[str]:
    """A (view, permission) pair of patterns, anchored at both ends (FAB uses re.match)."""
    return [f"({views})$", f"({permissions})$"]


# What every signed-in manager may do with its own profile.
_SELF_SERVICE = [
    # The Profile page checks the user view actually registered (AppUserDBModelView).
    _grant("AppUserDBModelView|UserDBModelView", "can_userinfo"),
    _grant("PanelResetMyPasswordView|UserInfoEditView", "can_this_form_(get|post)"),
]

# The license tabs, Allocate Licenses and its confirmation, Deallocate, Request renewal.
_LICENSE_WORK = "can_(list|allocate|select_all|confirm|remainder|deallocate|request_renewal)"
_IMPORTS = "can_(upload|columns|review|commit|rejected)"

FAB_ROLES = {
    ROLE_ADMIN: [[".*", ".*"]],
    ROLE_ACCOUNT_MANAGER: [
        _grant("Dashboard", "can_.*"),
        _grant("Company", "can_(list|show|add|edit|delete|manage|start_trial)"),
        _grant("Renewals", "can_(list|export|manage|request)"),
        _grant("Managers", "can_(list|show|add|edit|deactivate|activate)"),
        _grant("Learners", "can_(list|show|add|edit|deactivate|activate)"),
        _grant("Orders", "can_(list|show|request|assign|decline|cancel)"),
        _grant("Licenses", _LICENSE_WORK),
        _grant("Imports", _IMPORTS),
        _grant("Emails", "can_(list|show)"),
        _grant("Schedules", "can_(show|edit)"),
        _grant("ApiKeys", "can_(list|add|revoke)"),
        _grant("Webhooks", "can_(list|add|delete|replay)"),
        _grant("AuditLog", "can_(list|show|export)"),
        _grant(
            "Admin Dashboard|Company|Renewals|Users|Learners|Licenses|Emails|Audit Log",
            "menu_access",
        ),
        *_SELF_SERVICE,
    ],
    ROLE_CUSTOMER_MANAGER: [
        _grant("Dashboard", "can_.*"),
        _grant("Managers", "can_(list|show|add|edit|deactivate|activate)"),
        _grant("Learners", "can_(list|show|add|edit|deactivate|activate)"),
        _grant("Orders", "can_(list|show|request|cancel)"),
        _grant("Licenses", _LICENSE_WORK),
        _grant("Imports", _IMPORTS),
        _grant("Emails", "can_(list|show)"),
        _grant("Schedules", "can_show"),
        _grant("ApiKeys", "can_(list|add|revoke)"),
        _grant("Webhooks", "can_(list|add|delete|replay)"),
        _grant("AuditLog", "can_(list|show|export)"),
        _grant("Admin Dashboard|Users|Learners|Licenses|Emails|Audit Log", "menu_access"),
        *_SELF_SERVICE,
    ],
}
