"""The `idp` command: keys, brands, users and API clients.

Every command prints exactly one JSON object on stdout; errors go to stderr
with a non-zero exit status.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from idp import keyring
from idp.accounts import provisioning
from idp.accounts.custom_attributes import from_assignments
from idp.applications.service import Applications
from idp.config import Settings
from idp.errors import IdpError, ValidationError
from idp.models import BrandType, Role
from idp.presenters import brand_json, user_json
from idp.store import open_store


def _keys_generate(args: argparse.Namespace, settings: Settings) -> dict[str, Any]:
    written = keyring.generate(settings.keys_dir, bits=args.bits, common_name=args.common_name, force=args.force)
    return {"written": [str(path) for path in written], "bits": args.bits}


def _keys_rotate_link_key(args: argparse.Namespace, settings: Settings) -> dict[str, Any]:
    return {"link_key_id": keyring.rotate(settings.keys_dir, keyring.LINK_KEYS)}


def _keys_rotate_data_key(args: argparse.Namespace, settings: Settings) -> dict[str, Any]:
    return {"data_key_id": keyring.rotate(settings.keys_dir, keyring.DATA_KEYS)}


def _brands_create(args: argparse.Namespace, settings: Settings) -> dict[str, Any]:
    store = open_store(settings)
    brand = provisioning.create_brand(store, args.name, parent_id=args.parent, brand_type=args.type)
    return brand_json(brand, store.brand_lineage(brand.id))


def _brands_add_member(args: argparse.Namespace, settings: Settings) -> dict[str, Any]:
    membership = provisioning.add_member(open_store(settings), args.user, args.brand, args.role)
    return {"user": membership.user_id, "brand": membership.brand_id, "role": membership.role}


def _users_create(args: argparse.Namespace, settings: Settings) -> dict[str, Any]:
    password = None
    if args.password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    user = provisioning.create_user(
        open_store(settings),
        args.email,
        first_name=args.first_name,
        last_name=args.last_name,
        password=password,
        brand_id=args.brand,
        role=args.role,
        attributes=from_assignments(args.attribute),
    )
    return user_json(user)


def _users_update(args: argparse.Namespace, settings: Settings) -> dict[str, Any]:
    if not args.attribute:
        raise ValidationError("nothing to change: give at least one --attribute KEY=VALUE", field="attribute")
    user = provisioning.update_user_attributes(open_store(settings), args.email, from_assignments(args.attribute))
    return user_json(user)


def _clients_create(args: argparse.Namespace, settings: Settings) -> dict[str, Any]:
    created = provisioning.create_client(open_store(settings), args.name)
    return {"client_id": created.client.id, "client_secret": created.secret, "name": created.client.name}


def _apps_import(args: argparse.Namespace, settings: Settings) -> dict[str, Any]:
    try:
        xml = Path(args.file).read_bytes()
    except OSError as error:
        raise ValidationError(f"cannot read {args.file}: {error.strerror}", field="file") from None
    apps = Applications(open_store(settings), settings, links=None)
    imported = apps.import_metadata(None, args.brand, xml, name=args.name, entity_id=args.entity_id)
    app = imported.app
    return {
        "id": app.id,
        "name": app.name,
        "entity_id": app.entity_id,
        "acs_url": app.acs_url,
        "issuer": app.issuer,
        "created": imported.created,
    }


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="idp", description="Manage the SAML identity provider.")
    groups = parser.add_subparsers(dest="group", required=True)

    def command(
        group: argparse._SubParsersAction[argparse.ArgumentParser],
        name: str,
        run: Callable[[argparse.Namespace, Settings], dict[str, Any]],
        help: str,
    ) -> argparse.ArgumentParser:
        sub = group.add_parser(name, help=help)
        sub.set_defaults(run=run)
        return sub

    keys = groups.add_parser("keys", help="signing and link keys").add_subparsers(dest="command", required=True)
    generate = command(keys, "generate", _keys_generate, "write a signing key, its certificate and the secrets")
    generate.add_argument("--bits", type=int, default=2048, choices=(2048, 3072, 4096))
    generate.add_argument("--common-name", default="idp", help="the certificate's CN")
    generate.add_argument("--force", action="store_true", help="replace an existing signing key")
    command(keys, "rotate-link-key", _keys_rotate_link_key, "add a new key for sealing launch links")
    command(keys, "rotate-data-key", _keys_rotate_data_key, "add a new key for sealing secrets at rest")

    brands = groups.add_parser("brands", help="brands").add_subparsers(dest="command", required=True)
    create_brand = command(brands, "create", _brands_create, "create a brand")
    create_brand.add_argument("name")
    create_brand.add_argument("--parent", metavar="BRAND_ID")
    create_brand.add_argument("--type", default=BrandType.BROKERAGE.value, choices=[t.value for t in BrandType])
    add_member = command(brands, "add-member", _brands_add_member, "give a user a role in a brand")
    add_member.add_argument("brand", metavar="BRAND_ID")
    add_member.add_argument("user", metavar="USER_ID")
    add_member.add_argument("--role", required=True, choices=[r.value for r in Role])

    users = groups.add_parser("users", help="users").add_subparsers(dest="command", required=True)
    create_user = command(users, "create", _users_create, "create a user")
    create_user.add_argument("email")
    create_user.add_argument("--first-name", required=True)
    create_user.add_argument("--last-name", required=True)
    create_user.add_argument("--password-stdin", action="store_true", help="read the password from stdin")
    create_user.add_argument("--brand", metavar="BRAND_ID")
    create_user.add_argument("--role", choices=[r.value for r in Role])
    attribute_help = "a custom attribute (repeatable; a key given twice holds a list)"
    create_user.add_argument("--attribute", action="append", default=[], metavar="KEY=VALUE", help=attribute_help)
    update_user = command(users, "update", _users_update, "change a user's custom attributes")
    update_user.add_argument("email")
    update_user.add_argument(
        "--attribute", action="append", default=[], metavar="KEY=VALUE", help=attribute_help + "; KEY= removes it"
    )

    apps = groups.add_parser("apps", help="SSO applications").add_subparsers(dest="command", required=True)
    import_app = command(apps, "import", _apps_import, "create or update an app from SP metadata")
    import_app.add_argument("file", help="the service provider's metadata XML")
    import_app.add_argument("--brand", required=True, metavar="BRAND_ID")
    import_app.add_argument("--name", help="the app's name (default: the SP's host)")
    import_app.add_argument("--entity-id", help="which SP, when the file holds several")

    clients = groups.add_parser("clients", help="API clients").add_subparsers(dest="command", required=True)
    create_client = command(clients, "create", _clients_create, "create an API client; prints its secret once")
    create_client.add_argument("name")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        result = args.run(args, Settings.from_env())
    except IdpError as error:
        print(f"idp: error: {error.message}", file=sys.stderr)
        return 1
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
