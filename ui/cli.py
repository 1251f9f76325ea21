"""``zeikan ui``: serve the officers' web app; ``zeikan ui hash-password``: a hash for the users file."""

from __future__ import annotations

from pathlib import Path

import typer

ui_app = typer.Typer(help="The officers' web app (worklist, declarations, outcomes, annotation, rules).",
                     invoke_without_command=True, no_args_is_help=False)


@ui_app.callback()
def serve(
    ctx: typer.Context,
    port: int = typer.Option(None, "--port", help="Port (ZEIKAN_UI_PORT, default 8080)."),
    host: str = typer.Option(None, "--host", help="Interface (ZEIKAN_UI_HOST, default 127.0.0.1)."),
    users: str = typer.Option(None, "--users", help="Users YAML (ZEIKAN_UI_USERS)."),
    auth: str = typer.Option(None, "--auth", help="password | header (ZEIKAN_UI_AUTH)."),
    rules: str = typer.Option(None, "--rules", help="The workers' rule file to edit (ZEIKAN_RULES)."),
    data: str = typer.Option(None, "--data", help="Audit log and rule versions folder (ZEIKAN_UI_DATA)."),
) -> None:
    """Serve the web app (reads decisions, declarations, scans, scan-overdue and inspection results from Kafka)."""
    if ctx.invoked_subcommand is not None:
        return
    import uvicorn

    from zeikan.streams.kafka.kafka_io import check_reachable
    from zeikan.ui.app import create_app
    from zeikan.ui.settings import UiSettings
    from zeikan.ui.users import Users

    settings = UiSettings.from_env(port=port, host=host, users_file=users, auth_mode=auth, rules_path=rules, data_dir=data)
    officers = Users.load(Path(settings.users_file), need_passwords=settings.auth_mode == "password")
    check_reachable(settings.bootstrap)
    app = create_app(settings, officers)
    typer.echo(f"zeikan ui: http://{settings.host}:{settings.port}/worklist", err=True)
    uvicorn.run(app, host=settings.host, port=settings.port, log_level="warning")


@ui_app.command("hash-password")
def hash_password_command(password: str = typer.Option(..., prompt=True, hide_input=True, help="The password to hash.")) -> None:
    """Print an argon2id hash for the ``password_hash`` of a user in the users file."""
    from zeikan.ui.users import hash_password

    typer.echo(hash_password(password))


def register(app: typer.Typer) -> None:
    """Add ``zeikan ui`` to the root app."""
    app.add_typer(ui_app, name="ui")
