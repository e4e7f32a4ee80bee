"""Actions shared by list views: deactivate / reactivate selected rows."""

from __future__ import annotations

from flask import redirect
from flask_appbuilder.actions import action


class ActiveToggleActions:
    """Mixin for a ScopedModelView: `set_active(actor, ids, active)` is the service."""

    set_active = None

    @action("deactivate", "Deactivate", "Deactivate the selected rows?", "fa-ban")
    def deactivate(self, pks):
        self.run_service(
            lambda a: type(self).set_active(a, pks, False),
            lambda count: f"Deactivated {count} {self.noun}.",
        )
        return redirect(self.back_to_list())

    @action("activate", "Reactivate", "Reactivate the selected rows?", "fa-check")
    def activate(self, pks):
        self.run_service(
            lambda a: type(self).set_active(a, pks, True),
            lambda count: f"Reactivated {count} {self.noun}.",
        )
        return redirect(self.back_to_list())
