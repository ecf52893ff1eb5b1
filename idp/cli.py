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
from idp.accounts import provisioning, resealing
from idp.accounts.audit_log import AuditLog, EventQuery, moment
from idp.accounts.custom_attributes import from_assignments
from idp.applications.service import Applications
from idp.cli_people import ATTRIBUTE_HELP, add_people_commands
from idp.config import Settings
from idp.errors import ConfigurationError, IdpError, ValidationError
from idp.models import BrandType, Role
from idp.presenters import brand_json, user_json
from idp.scim.tokens import ScimTokens
from idp.store import Store, open_store
from idp.telemetry import logs


def _store(settings: Settings) -> Store:
    """The service's store; never a new empty one made by mistake in a folder that is not the service's home."""
    if not settings.redis_url:
        database, keys = settings.database_path.absolute(), settings.keys_dir.absolute()
        if not database.exists() and not keys.is_dir():
            raise ConfigurationError(
                f"no store here: looked for the database {database} and the keys folder {keys}, and found neither. "
                "Run idp from the service's folder, or point it at the service's store with IDP_DATABASE "
                "(and IDP_KEYS_DIR), or REDIS_URL; for a new service, run `idp keys generate` first."
            )
    return open_store(settings)


def _keys_generate(args: argparse.Namespace, settings: Settings) -> dict[str, Any]:
    written = keyring.generate(
        settings.keys_dir, bits=args.bits, common_name=args.common_name, force=args.force, ecdsa=args.ecdsa
    )
    return {"written": [str(path) for path in written], "bits": args.bits, "ecdsa": args.ecdsa}


def _keys_rotate_link_key(args: argparse.Namespace, settings: Settings) -> dict[str, Any]:
    return {"link_key_id": keyring.rotate(settings.keys_dir, keyring.LINK_KEYS)}


def _keys_rotate_data_key(args: argparse.Namespace, settings: Settings) -> dict[str, Any]:
    return {"data_key_id": keyring.rotate(settings.keys_dir, keyring.DATA_KEYS)}


def _keys_stage(args: argparse.Namespace, settings: Settings) -> dict[str, Any]:
    ecdsa = _ecdsa_signing(args)
    change = keyring.stage(settings.keys_dir, args.kind, bits=args.bits, common_name=args.common_name, ecdsa=ecdsa)
    return change.as_json()


def _ecdsa_signing(args: argparse.Namespace) -> bool:
    if args.ecdsa and args.kind != keyring.SIGNING:
        raise ValidationError("--ecdsa goes with signing keys only", field="ecdsa")
    return bool(args.ecdsa)


def _keys_promote(args: argparse.Namespace, settings: Settings) -> dict[str, Any]:
    return keyring.promote(settings.keys_dir, args.kind, ecdsa=_ecdsa_signing(args)).as_json()


def _keys_retire(args: argparse.Namespace, settings: Settings) -> dict[str, Any]:
    if args.kind == keyring.DATA:
        return _retire_data_keys(settings, force=args.force)
    return keyring.retire(settings.keys_dir, args.kind, ecdsa=_ecdsa_signing(args)).as_json()


def _retire_data_keys(settings: Settings, *, force: bool) -> dict[str, Any]:
    """Seal again under the data key that seals what the retiring ones sealed, then retire them."""
    data = keyring.read_key_set(settings.keys_dir).data
    retiring = data.older
    if not retiring:
        raise ConfigurationError("no older data key to retire")
    store = _store(settings)
    lagging = sorted(
        str(report.get("worker")) for report in store.key_reports() if report.get("data_key_seals") in retiring
    )
    if lagging and not force:
        raise ValidationError(
            f"{', '.join(lagging)} still seal with data key {', '.join(retiring)}: wait until `idp keys status` "
            "shows every worker up to date (or add --force)",
            field="force",
        )
    resealed = resealing.reseal(store, data, retiring)
    if resealed.left and not force:
        raise ValidationError(
            f"sealed again under data key {data.sealing}: {resealed.totp_secrets} TOTP secrets and the recovery "
            f"codes of {resealed.recovery_codes} users; but {resealed.left} users would lose something if "
            f"{', '.join(retiring)} went now ({resealed.unreadable} values no key opens, "
            f"{resealed.older_recovery_codes} sets of recovery codes in the older keyed-hash form, which cannot "
            f"move, {resealed.changed_meanwhile} records that kept changing). Run again, or add --force to go "
            "ahead (those users set up TOTP or make recovery codes again)",
            field="force",
        )
    retired = keyring.retire(settings.keys_dir, keyring.DATA).as_json()
    retired["resealed"] = resealed.as_json()
    retired["changed"] += (
        f" First sealed again under {data.sealing}: {resealed.totp_secrets} TOTP secrets and the recovery codes "
        f"of {resealed.recovery_codes} users."
    )
    return retired


def _keys_status(args: argparse.Namespace, settings: Settings) -> dict[str, Any]:
    """What the folder holds, and what each worker that reported in the last minutes uses."""
    folder = keyring.read_key_set(settings.keys_dir).summary()
    workers = sorted(open_store(settings).key_reports(), key=lambda report: str(report.get("worker")))
    for worker in workers:
        worker["up_to_date"] = worker.get("version") == folder["version"]
    return {
        "folder": folder,
        "workers": workers,
        # No report at all is no evidence: false, as when one worker lags.
        "every_worker_up_to_date": bool(workers) and all(worker["up_to_date"] for worker in workers),
    }


def _brands_create(args: argparse.Namespace, settings: Settings) -> dict[str, Any]:
    store = _store(settings)
    brand = provisioning.create_brand(store, args.name, parent_id=args.parent, brand_type=args.type)
    return brand_json(brand, store.brand_lineage(brand.id))


def _brands_add_member(args: argparse.Namespace, settings: Settings) -> dict[str, Any]:
    membership = provisioning.add_member(_store(settings), args.user, args.brand, args.role)
    return {"user": membership.user_id, "brand": membership.brand_id, "role": membership.role}


def _users_create(args: argparse.Namespace, settings: Settings) -> dict[str, Any]:
    password = None
    if args.password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    user = provisioning.create_user(
        _store(settings),
        args.email,
        first_name=args.first_name,
        last_name=args.last_name,
        password=password,
        brand_id=args.brand,
        role=args.role,
        attributes=from_assignments(args.attribute),
    )
    return user_json(user)


def _clients_create(args: argparse.Namespace, settings: Settings) -> dict[str, Any]:
    created = provisioning.create_client(_store(settings), args.name)
    return {"client_id": created.client.id, "client_secret": created.secret, "name": created.client.name}


def _apps_import(args: argparse.Namespace, settings: Settings) -> dict[str, Any]:
    try:
        xml = Path(args.file).read_bytes()
    except OSError as error:
        raise ValidationError(f"cannot read {args.file}: {error.strerror}", field="file") from None
    apps = Applications(_store(settings), settings, links=None, keyring=keyring.KeyRing.load(settings.keys_dir))
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


def _scim_tokens_create(args: argparse.Namespace, settings: Settings) -> dict[str, Any]:
    created = ScimTokens(_store(settings)).create(args.brand)
    return {"id": created.token.id, "brand": created.token.brand_id, "token": created.secret}


def _scim_tokens_list(args: argparse.Namespace, settings: Settings) -> dict[str, Any]:
    tokens = ScimTokens(_store(settings)).of_brand(args.brand)
    return {"data": [{"id": t.id, "brand": t.brand_id, "created_at": t.created_at} for t in tokens]}


def _scim_tokens_revoke(args: argparse.Namespace, settings: Settings) -> dict[str, Any]:
    revoked = ScimTokens(_store(settings)).revoke(args.token)
    return {"id": revoked.id, "brand": revoked.brand_id, "revoked": True}


def _events(args: argparse.Namespace, settings: Settings) -> dict[str, Any]:
    """The kept audit events, newest first: of a brand, done by or to a user, since a moment."""
    store = _store(settings)
    user_id = args.user
    if user_id and "@" in user_id:
        user = store.user_by_email(user_id)
        user_id = user.id if user else "\0unknown"
    query = EventQuery(
        brand_ids=frozenset({args.brand}) if args.brand else None,
        since=moment("since", args.since),
        until=moment("until", args.until),
        action=args.action,
        user_id=user_id,
        limit=args.limit,
    )
    page = AuditLog(store, settings.audit_retention_days * 24 * 3600).events(query)
    return {"data": [event.as_json() for event in page.items]}


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
    generate.add_argument("--ecdsa", action="store_true", help="an EC P-256 signing key, beside the RSA one")
    command(keys, "rotate-link-key", _keys_rotate_link_key, "add a new key that seals launch links at once")
    command(keys, "rotate-data-key", _keys_rotate_data_key, "add a new key that seals secrets at rest at once")
    kind = {"nargs": "?", "default": keyring.SIGNING, "choices": keyring.KINDS, "help": "which keys (default: signing)"}
    stage = command(keys, "stage", _keys_stage, "make the next key: published (signing) or opening (link, data)")
    stage.add_argument("kind", **kind)  # type: ignore[arg-type]
    stage.add_argument("--bits", type=int, choices=(2048, 3072, 4096), help="default: those of the signing key")
    stage.add_argument("--common-name", help="the certificate's CN (default: the signing certificate's)")
    ecdsa_help = "the ECDSA signing key (`idp keys generate --ecdsa`), not the RSA one"
    stage.add_argument("--ecdsa", action="store_true", help=ecdsa_help)
    promote = command(keys, "promote", _keys_promote, "the staged key signs or seals; the old one still verifies")
    promote.add_argument("kind", **kind)  # type: ignore[arg-type]
    promote.add_argument("--ecdsa", action="store_true", help=ecdsa_help)
    retire = command(keys, "retire", _keys_retire, "drop the keys that no longer sign or seal")
    retire.add_argument("kind", **kind)  # type: ignore[arg-type]
    retire.add_argument("--ecdsa", action="store_true", help=ecdsa_help)
    retire.add_argument(
        "--force", action="store_true", help="retire data keys even when something sealed with them cannot be moved"
    )
    command(keys, "status", _keys_status, "what the keys folder holds and what each worker uses")

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
    create_user.add_argument("--attribute", action="append", default=[], metavar="KEY=VALUE", help=ATTRIBUTE_HELP)

    apps = groups.add_parser("apps", help="SSO applications").add_subparsers(dest="command", required=True)
    import_app = command(apps, "import", _apps_import, "create or update an app from SP metadata")
    import_app.add_argument("file", help="the service provider's metadata XML")
    import_app.add_argument("--brand", required=True, metavar="BRAND_ID")
    import_app.add_argument("--name", help="the app's name (default: the SP's host)")
    import_app.add_argument("--entity-id", help="which SP, when the file holds several")

    clients = groups.add_parser("clients", help="API clients").add_subparsers(dest="command", required=True)
    create_client = command(clients, "create", _clients_create, "create an API client; prints its secret once")
    create_client.add_argument("name")
    add_people_commands(groups, brands, users, apps, clients, command, _store)

    events = groups.add_parser("events", help="the audit log, newest first")
    events.set_defaults(run=_events)
    events.add_argument("--brand", metavar="BRAND_ID", help="only the events of this brand")
    events.add_argument("--user", metavar="USER", help="only the events done by or to this user (id or email)")
    events.add_argument("--since", metavar="ISO-OR-EPOCH", help="only events at or after this moment")
    events.add_argument("--until", metavar="ISO-OR-EPOCH", help="only events at or before this moment")
    events.add_argument("--action", help="only events of this action (sign_in, user.disable, ...)")
    events.add_argument("--limit", type=int, help="at most this many")

    scim = groups.add_parser("scim-tokens", help="SCIM provisioning tokens").add_subparsers(
        dest="command", required=True
    )
    scim_create = command(scim, "create", _scim_tokens_create, "make a SCIM token for a root brand; prints it once")
    scim_create.add_argument("--brand", required=True, metavar="BRAND_ID")
    scim_list = command(scim, "list", _scim_tokens_list, "a root brand's SCIM tokens (never their secrets)")
    scim_list.add_argument("--brand", required=True, metavar="BRAND_ID")
    scim_revoke = command(scim, "revoke", _scim_tokens_revoke, "revoke a SCIM token at once")
    scim_revoke.add_argument("token", metavar="TOKEN_ID")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        settings = Settings.from_env()
        logs.configure(settings.log_format)  # the audit lines of what the command does go to stderr, as JSON
        result = args.run(args, settings)
    except IdpError as error:
        print(f"idp: error: {error.message}", file=sys.stderr)
        return 1
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
