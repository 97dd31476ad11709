"""`smi stack`: the local stack (Kafka, PostgreSQL, the services) as background processes."""
import typer

from deploy.local import stack as local

app = typer.Typer(no_args_is_help=True, help="The no-Docker local stack.")


@app.command()
def up(no_services: bool = typer.Option(False, help="only Kafka and PostgreSQL")) -> None:
    """Start whatever is not running; print where everything is."""
    raise typer.Exit(local.main(["up", *(["--no-services"] if no_services else [])]))


@app.command()
def down() -> None:
    """Stop what the stack started (by pid); data is kept."""
    raise typer.Exit(local.main(["down"]))


@app.command()
def status() -> None:
    """What runs, with pids and addresses."""
    raise typer.Exit(local.main(["status"]))
