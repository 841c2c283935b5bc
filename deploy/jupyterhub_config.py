"""chatml_lab for a team on JupyterHub: one PostgreSQL, one role per person, one machine per server.

Merge into your ``jupyterhub_config.py``. Each person's single-user server is its own chatml machine
(``CHATML_MACHINE``) and acts as the hub user (chatml reads ``JUPYTERHUB_USER``), connecting as that
person's PostgreSQL role, made once by an administrator with
``chatml db add-person NAME --password-stdin`` (README "Many machines, many people"). The passwords
live in a directory only the hub can read, one file per person (``/srv/chatml/passwords/NAME``).
The single-user image runs the machine's runner host beside the server (see ``cmd`` below), so
messages other machines send to its sessions are answered while the person's server runs.
"""

from pathlib import Path
from urllib.parse import quote

c = get_config()  # type: ignore[name-defined]  # noqa: F821  (JupyterHub's config loader defines it)

DATABASE = "db.example.internal:5432/chatml"
PASSWORDS = Path("/srv/chatml/passwords")


def chatml_environment(spawner):  # type: ignore[no-untyped-def]
    """The person's database URL and machine name, computed when their server starts."""
    name = spawner.user.name
    password = (PASSWORDS / name).read_text().strip()
    spawner.environment.update(
        {
            "CHATML_DATABASE_URL": f"postgresql://{quote(name)}:{quote(password)}@{DATABASE}",
            "CHATML_MACHINE": f"{name}-server",
        }
    )


c.Spawner.pre_spawn_hook = chatml_environment
# The runner host of this person's machine, then the server; the host leaves with the container.
c.Spawner.cmd = ["sh", "-c", "chatml host --idle-timeout 0 & exec jupyterhub-singleuser"]
