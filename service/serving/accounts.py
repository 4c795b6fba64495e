"""Keys and sign-in: service.serving.auth over the store's keys, for the shells."""

from __future__ import annotations

from service.serving import auth
from service.serving.auth import Tenant
from service.serving.base import ServiceBase


class Accounts(ServiceBase):
    """API keys and web sessions: which tenant a request is."""

    # --- keys and sign-in (service.serving.auth over the store's keys) -------------------------------
    def tenant_for_key(self, key: str) -> Tenant:
        return auth.tenant_for_key(self.store, key)

    def tenant_for_session(self, token: str) -> Tenant:
        return auth.tenant_for_session(self.store, token)

    def start_session(self, tenant: Tenant) -> str:
        return auth.start_session(self.store, tenant, self.settings.max_sessions_per_key)

    def end_session(self, token: str) -> None:
        auth.end_session(self.store, token)

    def create_api_key(self, tenant_name: str, admin: bool = False) -> str:
        return auth.create_api_key(self.store, tenant_name, admin)
