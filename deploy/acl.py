"""SCRAM users and Kafka ACLs for per-party topics: each Service User writes requests and reads only
its own responses and alerts, a CSP writes only the CSP feed, the platform's user owns the rest.

    python -m deploy.acl          # create or refresh the users and ACLs of every registry party
    python -m deploy.acl --print  # the equivalent kafka-configs.sh / kafka-acls.sh commands

It connects with the SMI_KAFKA_* settings, as a principal allowed to alter ACLs and users (a super
user). A user's SCRAM password comes from SMI_SCRAM_PASSWORD_<USER> (upper case, every character
other than a letter or digit as `_`); a user without one keeps the credential it has. Re-running it
is harmless: Kafka ignores an ACL that exists already. The work is done by Apache Kafka's own tools
(kafka.admin.ConfigCommand, org.apache.kafka.tools.AclCommand), from the jars the local stack
resolves, so what runs here is what `kafka-configs.sh` and `kafka-acls.sh` do in a distribution.
"""
from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from deploy.local import kafka
from shared import parties as registry
from shared.responses import alert_topic, response_topic
from shared.settings import Settings

PLATFORM_USER = "smi-platform"
SCRAM_ITERATIONS = 8192
# Passwords are written into JAAS and SCRAM syntax: no quotes, backslashes, commas, brackets or spaces.
PASSWORD = re.compile(r"[A-Za-z0-9!#$%&()*+./:;<=>?@^_{|}~-]{16,}")
ACL_TOOL, CONFIG_TOOL = "org.apache.kafka.tools.AclCommand", "kafka.admin.ConfigCommand"


def password_variable(user: str) -> str:
    return "SMI_SCRAM_PASSWORD_" + re.sub(r"[^A-Z0-9]", "_", user.upper())


@dataclass(frozen=True)
class Grant:
    """Allow `principal` these operations on these resources (one kafka-acls --add)."""
    user: str
    operations: tuple[str, ...]
    resource: Literal["topic", "group", "transactional-id", "cluster"]
    names: tuple[str, ...] = ()
    prefixed: bool = False

    def acl_args(self) -> list[str]:
        args = ["--add", "--allow-principal", f"User:{self.user}"]
        for operation in self.operations:
            args += ["--operation", operation]
        if self.resource == "cluster":
            return [*args, "--cluster"]
        for name in self.names:
            args += [f"--{self.resource}", name]
        return [*args, "--resource-pattern-type", "prefixed" if self.prefixed else "literal"]


def platform_grants(settings: Settings, user: str = PLATFORM_USER, prefix: str = "smi") -> list[Grant]:
    """Every topic, consumer group and transactional id of the services starts with `prefix`
    (faust's housekeeping topics and group too), so three prefixed grants cover them all."""
    outside = [t for t in settings.topics.model_dump().values() if not t.startswith(prefix)]
    if outside:
        raise ValueError(f"topics outside the platform prefix {prefix!r}: {', '.join(outside)}")
    return [Grant(user, ("All",), "topic", (prefix,), prefixed=True),
            Grant(user, ("All",), "group", (prefix,), prefixed=True),
            Grant(user, ("Write", "Describe"), "transactional-id", (prefix,), prefixed=True)]


def party_grants(settings: Settings, party: registry.Party) -> list[Grant]:
    if party.kind == "csp":
        return [Grant(party.eui, ("Write", "Describe"), "topic", (settings.topics.csp_events,))]
    own = (response_topic(settings, party.eui), alert_topic(settings, party.eui))
    return [Grant(party.eui, ("Write", "Describe"), "topic", (settings.topics.requests,)),
            Grant(party.eui, ("Read", "Describe"), "topic", own),
            # a party's consumer groups are named `<EUI>.<anything>`
            Grant(party.eui, ("Read",), "group", (f"{party.eui}.",), prefixed=True)]


def grants(settings: Settings, parties: list[registry.Party], platform_user: str = PLATFORM_USER) -> list[Grant]:
    if settings.topic_mode != "per-party":
        raise ValueError("ACLs keep parties apart only with SMI_TOPIC_MODE=per-party")
    return [*platform_grants(settings, platform_user), *(g for p in parties for g in party_grants(settings, p))]


def scram_args(user: str, password: str, mechanism: str) -> list[str]:
    if not PASSWORD.fullmatch(password):
        raise ValueError(f"the SCRAM password of {user} needs 16 or more characters from "
                         f"{PASSWORD.pattern} (e.g. `openssl rand -base64 24`)")
    return ["--alter", "--entity-type", "users", "--entity-name", user,
            "--add-config", f"{mechanism}=[iterations={SCRAM_ITERATIONS},password={password}]"]


def client_properties(settings: Settings) -> str:
    """The admin connection in the Java tools' terms (their --command-config file)."""
    lines = [f"security.protocol={settings.kafka_security_protocol}"]
    if settings.kafka_security_protocol.startswith("SASL_"):
        password = settings.kafka_sasl_password.get_secret_value()
        if not PASSWORD.fullmatch(password):
            raise ValueError(f"SMI_KAFKA_SASL_PASSWORD needs 16 or more characters from {PASSWORD.pattern}")
        lines += [f"sasl.mechanism={settings.kafka_sasl_mechanism}",
                  "sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required "
                  f'username="{settings.kafka_sasl_username}" password="{password}";']
    if settings.kafka_ssl_cafile:
        lines += ["ssl.truststore.type=PEM", f"ssl.truststore.location={settings.kafka_ssl_cafile}"]
    return "".join(f"{line}\n" for line in lines)


class KafkaTools:
    """Runs Kafka's command-line tools in a JVM. Secrets never reach a process's command line
    (visible to every local user): the admin connection goes in a --command-config file, the
    arguments in a java @argument file, both readable by this user only and deleted afterwards."""

    def __init__(self, settings: Settings, classpath: str | None = None) -> None:
        self.settings = settings
        self.java = kafka.require_tool("java", "install a Java 17+ runtime")
        self.classpath = classpath or kafka.tools_classpath()

    def run(self, main: str, args: list[str]) -> str:
        with tempfile.TemporaryDirectory(prefix="smi-acl-") as folder:
            config = Path(folder) / "admin.properties"
            config.write_text(client_properties(self.settings))
            argv = [main, "--bootstrap-server", self.settings.kafka_bootstrap_servers,
                    "--command-config", str(config), *args]
            argfile = Path(folder) / "args"
            argfile.write_text("".join(f'"{arg}"\n' for arg in argv))
            result = subprocess.run([self.java, "-cp", self.classpath, f"@{argfile}"],
                                    capture_output=True, text=True)
        if result.returncode != 0:
            raise RuntimeError(f"{main.rsplit('.', 1)[-1]} failed:\n{result.stdout}{result.stderr}")
        return result.stdout


def apply(settings: Settings, parties: list[registry.Party], environ: Mapping[str, str],
          tools: KafkaTools, platform_user: str = PLATFORM_USER) -> list[str]:
    """Create or update every SCRAM user with a password in `environ`, then add every ACL.
    Returns what was done, one line each."""
    planned = grants(settings, parties, platform_user)
    done = []
    for user in [platform_user, *(p.eui for p in parties)]:
        password = environ.get(password_variable(user))
        if password:
            tools.run(CONFIG_TOOL, scram_args(user, password, settings.kafka_sasl_mechanism))
            done.append(f"SCRAM user {user}")
    for grant in planned:
        tools.run(ACL_TOOL, grant.acl_args())
        done.append(" ".join(grant.acl_args()))
    return done


def shell_commands(settings: Settings, parties: list[registry.Party], platform_user: str = PLATFORM_USER) -> list[str]:
    """The same work as kafka-configs.sh and kafka-acls.sh lines, passwords as variables."""
    connect = f"--bootstrap-server {settings.kafka_bootstrap_servers} --command-config admin.properties"
    lines = []
    for user in [platform_user, *(p.eui for p in parties)]:
        args = scram_args(user, "x" * 16, settings.kafka_sasl_mechanism)
        args[-1] = f'"{args[-1].replace("x" * 16, "$" + password_variable(user))}"'
        lines.append(f"kafka-configs.sh {connect} {' '.join(args)}")
    for grant in grants(settings, parties, platform_user):
        lines.append(f"kafka-acls.sh {connect} {' '.join(_quote(a) for a in grant.acl_args())}")
    return lines


def _quote(arg: str) -> str:
    return f"'{arg}'" if re.search(r"[^\w.,:/=@-]", arg) else arg


def main(argv: list[str] | None = None, environ: Mapping[str, str] = os.environ) -> int:
    parser = argparse.ArgumentParser(prog="python -m deploy.acl", description=__doc__.split("\n\n")[0])
    parser.add_argument("--print", action="store_true", help="print the kafka-*.sh commands, change nothing")
    parser.add_argument("--platform-user", default=PLATFORM_USER, help="the services' SCRAM user")
    options = parser.parse_args(argv)
    settings = Settings()
    parties = registry.load_file(settings.parties_file)
    try:
        if options.print:
            print("\n".join(shell_commands(settings, parties, options.platform_user)))
            return 0
        done = apply(settings, parties, environ, KafkaTools(settings), options.platform_user)
    except (ValueError, RuntimeError) as error:  # StackError is a RuntimeError
        print(f"deploy.acl: {error}", file=sys.stderr)
        return 1
    print("\n".join(done))
    return 0


if __name__ == "__main__":
    sys.exit(main())
