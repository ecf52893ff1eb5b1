"""The `idp` command's people commands: brands, users, members, API clients and apps, listed and changed.

Each prints one JSON document on stdout (lists as `{"data": [...]}`), as every `idp` command does.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from typing import Any

from idp.accounts import provisioning
from idp.accounts.custom_attributes import from_assignments, updated
from idp.accounts.services import Accounts
from idp.applications.brand_settings import Appearance, BrandSettings
from idp.applications.service import ShownApp
from idp.config import Settings
from idp.errors import NotFound, ValidationError
from idp.keyring import KeyRing
from idp.models import BrandType, Role, User
from idp.presenters import app_json, brand_json, client_json, user_json
from idp.store import Store
from idp.telemetry import audit

Run = Callable[[argparse.Namespace, Settings], dict[str, Any]]
Command = Callable[[Any, str, Run, str], argparse.ArgumentParser]
OpenStore = Callable[[Settings], Store]
ATTRIBUTE_HELP = "a custom attribute (repeatable; a key given twice holds a list)"


def _find_user(store: Store, ref: str) -> User:
    """A user by id, or by email when the reference holds an @."""
    user = store.user_by_email(ref) if "@" in ref else store.user(ref)
    if user is None:
        raise NotFound(f"no user {ref}", field="user")
    return user


def _brand_settings(store: Store, settings: Settings) -> BrandSettings:
    return BrandSettings.of(store, settings)


def _user_with_brands(store: Store, user: User) -> dict[str, Any]:
    brands = [{"brand": m.brand_id, "role": m.role} for m in store.memberships_of(user.id)]
    return {**user_json(user), "brands": brands}


def add_people_commands(
    groups: Any, brands: Any, users: Any, apps: Any, clients: Any, command: Command, open_store: OpenStore
) -> None:
    """Add the commands to the `brands`, `users`, `apps` and `clients` groups, and the `members` group."""

    def accounts(settings: Settings) -> tuple[Store, Accounts]:
        store = open_store(settings)
        found = Accounts.build(settings, store, KeyRing.load(settings.keys_dir))
        audit.keep_with(found.audit_log.keep)  # what the operator does here is kept as the service's acts are
        return store, found

    # brands
    def brands_list(args: argparse.Namespace, settings: Settings) -> dict[str, Any]:
        store = open_store(settings)
        return {"data": [brand_json(brand, store.brand_lineage(brand.id)) for brand in store.brands()]}

    def brands_show(args: argparse.Namespace, settings: Settings) -> dict[str, Any]:
        store = open_store(settings)
        brand = store.brand(args.brand)
        if brand is None:
            raise NotFound(f"no brand {args.brand}", field="brand")
        return brand_json(brand, store.brand_lineage(brand.id), base_url=settings.base_url)

    def brands_update(args: argparse.Namespace, settings: Settings) -> dict[str, Any]:
        store = open_store(settings)
        brand = provisioning.update_brand(store, args.brand, name=args.name, brand_type=args.type)
        hostnames = [] if args.no_hostnames else args.hostname
        if args.display_name is not None or args.accent_color is not None or hostnames is not None:
            changes = Appearance(display_name=args.display_name, accent_color=args.accent_color, hostnames=hostnames)
            brand = _brand_settings(store, settings).update(None, brand.id, changes)
        return brand_json(brand, store.brand_lineage(brand.id), base_url=settings.base_url)

    def brands_set_logo(args: argparse.Namespace, settings: Settings) -> dict[str, Any]:
        store = open_store(settings)
        try:
            with open(args.file, "rb") as image:
                data = image.read(settings.icon_max_bytes + 1)
        except OSError as failed:
            raise ValidationError(f"cannot read {args.file}: {failed.strerror}", field="logo") from None
        brand = _brand_settings(store, settings).set_logo(None, args.brand, data)
        return brand_json(brand, store.brand_lineage(brand.id), base_url=settings.base_url)

    def brands_remove_logo(args: argparse.Namespace, settings: Settings) -> dict[str, Any]:
        store = open_store(settings)
        brand = _brand_settings(store, settings).drop_logo(None, args.brand)
        return brand_json(brand, store.brand_lineage(brand.id), base_url=settings.base_url)

    command(brands, "list", brands_list, "list every brand")
    command(brands, "show", brands_show, "show a brand").add_argument("brand", metavar="BRAND_ID")
    update_brand = command(brands, "update", brands_update, "change a brand's name, type, host names or appearance")
    update_brand.add_argument("brand", metavar="BRAND_ID")
    update_brand.add_argument("--name")
    update_brand.add_argument("--type", choices=[t.value for t in BrandType])
    update_brand.add_argument("--display-name", help="the name agents see (empty: the brand's name)")
    update_brand.add_argument("--accent-color", metavar="#RRGGBB", help="the accent colour (empty: the default)")
    update_brand.add_argument(
        "--hostname", action="append", metavar="HOST", help="a host name of the brand (repeatable; replaces the list)"
    )
    update_brand.add_argument("--no-hostnames", action="store_true", help="remove every host name")
    set_logo = command(brands, "set-logo", brands_set_logo, "upload a brand's logo (re-encoded as PNG)")
    set_logo.add_argument("brand", metavar="BRAND_ID")
    set_logo.add_argument("file", metavar="IMAGE_FILE")
    command(brands, "remove-logo", brands_remove_logo, "remove a brand's logo").add_argument(
        "brand", metavar="BRAND_ID"
    )

    # users
    def users_list(args: argparse.Namespace, settings: Settings) -> dict[str, Any]:
        store, found = accounts(settings)
        if args.brand:
            listed = [m.user for m in found.people.members(None, args.brand, query=args.query).items]
        else:
            listed = sorted(store.users(), key=lambda u: (u.last_name.lower(), u.first_name.lower(), u.email))
            if args.query:
                needle = args.query.lower()
                listed = [u for u in listed if needle in f"{u.display_name} {u.email}".lower()]
        return {"data": [_user_with_brands(store, user) for user in listed]}

    def users_show(args: argparse.Namespace, settings: Settings) -> dict[str, Any]:
        store = open_store(settings)
        return _user_with_brands(store, _find_user(store, args.user))

    def users_update(args: argparse.Namespace, settings: Settings) -> dict[str, Any]:
        store, found = accounts(settings)
        changes = {
            name: value
            for name, value in (
                ("first_name", args.first_name),
                ("last_name", args.last_name),
                ("phone_number", args.phone),
            )
            if value is not None
        }
        if not changes and not args.attribute:
            raise ValidationError(
                "nothing to change: give --first-name, --last-name, --phone or --attribute KEY=VALUE", field="user"
            )
        user = _find_user(store, args.user)
        if args.attribute:
            changes["attributes"] = updated(user.attributes, from_assignments(args.attribute))
        user = found.people.update(None, user.id, changes)
        return _user_with_brands(store, user)

    def lifecycle(action: str) -> Run:
        def run(args: argparse.Namespace, settings: Settings) -> dict[str, Any]:
            store, found = accounts(settings)
            user = _find_user(store, args.user)
            if action == "disable":
                user = found.people.disable(None, user.id)
            elif action == "enable":
                user = found.people.enable(None, user.id)
            elif action == "delete":
                found.people.delete(None, user.id)
                return {"id": user.id, "deleted": True}
            else:
                user = found.people.reset_mfa(None, user.id)
            return _user_with_brands(store, user)

        return run

    def users_set_password(args: argparse.Namespace, settings: Settings) -> dict[str, Any]:
        store, found = accounts(settings)
        user = _find_user(store, args.user)
        password = sys.stdin.readline().rstrip("\r\n")
        return _user_with_brands(store, found.people.set_password(user.id, password))

    list_users = command(users, "list", users_list, "list users, of one brand or all")
    list_users.add_argument("--brand", metavar="BRAND_ID", help="only the members of this brand")
    list_users.add_argument("--query", help="only users whose name or email contains this")
    command(users, "show", users_show, "show a user").add_argument("user", metavar="USER", help="id or email")
    update_user = command(users, "update", users_update, "change a user's name, phone or custom attributes")
    update_user.add_argument("user", metavar="USER", help="id or email")
    update_user.add_argument("--first-name")
    update_user.add_argument("--last-name")
    update_user.add_argument("--phone")
    update_user.add_argument(
        "--attribute", action="append", default=[], metavar="KEY=VALUE", help=ATTRIBUTE_HELP + "; KEY= removes it"
    )
    for action, text in (
        ("disable", "disable a user: every token, session and link stops working at once"),
        ("enable", "enable a disabled user"),
        ("delete", "delete a user (kept for history; the address is freed)"),
        ("reset-mfa", "remove a user's MFA, for one who lost their authenticator"),
    ):
        command(users, action, lifecycle(action), text).add_argument("user", metavar="USER", help="id or email")
    set_password = command(users, "set-password", users_set_password, "set a user's password; ends their sessions")
    set_password.add_argument("user", metavar="USER", help="id or email")
    set_password.add_argument("--password-stdin", action="store_true", required=True, help="read it from stdin")

    # members
    def members_add(args: argparse.Namespace, settings: Settings) -> dict[str, Any]:
        store, found = accounts(settings)
        user = _find_user(store, args.user)
        added = found.people.add_member(None, args.brand, {"email": user.email, "role": args.role})
        return {"user": user.id, "brand": args.brand, "role": added.member.membership.role}

    def members_set_role(args: argparse.Namespace, settings: Settings) -> dict[str, Any]:
        store, found = accounts(settings)
        member = found.people.set_role(None, args.brand, _find_user(store, args.user).id, args.role)
        return {"user": member.user.id, "brand": args.brand, "role": member.membership.role}

    def members_remove(args: argparse.Namespace, settings: Settings) -> dict[str, Any]:
        store, found = accounts(settings)
        user = _find_user(store, args.user)
        found.people.remove_member(None, args.brand, user.id)
        return {"user": user.id, "brand": args.brand, "removed": True}

    members = groups.add_parser("members", help="brand memberships").add_subparsers(dest="command", required=True)
    for name, run, text, with_role in (
        ("add", members_add, "give an existing user a role in a brand", True),
        ("set-role", members_set_role, "change a member's role", True),
        ("remove", members_remove, "take a user out of a brand", False),
    ):
        sub = command(members, name, run, text)
        sub.add_argument("brand", metavar="BRAND_ID")
        sub.add_argument("user", metavar="USER", help="id or email")
        if with_role:
            sub.add_argument("--role", required=True, choices=[r.value for r in Role])

    # clients
    def clients_list(args: argparse.Namespace, settings: Settings) -> dict[str, Any]:
        return {"data": [client_json(client) for client in open_store(settings).clients()]}

    def clients_revoke(args: argparse.Namespace, settings: Settings) -> dict[str, Any]:
        store, found = accounts(settings)
        if store.client(args.client) is None:
            raise NotFound(f"no client {args.client}", field="client")
        store.drop_client(args.client)
        return {"client_id": args.client, "revoked": True, "tokens_revoked": found.tokens.revoke_client(args.client)}

    command(clients, "list", clients_list, "list API clients (never their secrets)")
    revoke = command(clients, "revoke", clients_revoke, "delete an API client and revoke every token it was given")
    revoke.add_argument("client", metavar="CLIENT_ID")

    # apps
    def apps_list(args: argparse.Namespace, settings: Settings) -> dict[str, Any]:
        store = open_store(settings)
        if args.brand:
            if store.brand(args.brand) is None:
                raise NotFound(f"no brand {args.brand}", field="brand")
            owners = [args.brand]
        else:
            owners = [brand.id for brand in store.brands()]
        listed = [app for owner in owners for app in store.apps_owned_by(owner)]
        listed.sort(key=lambda app: (app.order, app.name.lower(), app.id))
        return {"data": [app_json(ShownApp(app, None), base_url=settings.base_url) for app in listed]}

    list_apps = command(apps, "list", apps_list, "list SSO applications, of one brand or all")
    list_apps.add_argument("--brand", metavar="BRAND_ID", help="only the apps this brand owns")
