"""The local stack's broker configuration: one node by default, three replicating ones on demand."""
import dataclasses

import pytest

from deploy.local import kafka
from deploy.local.layout import Layout
from deploy.local.processes import StackError


def properties(path) -> dict[str, str]:
    return dict(line.split("=", 1) for line in path.read_text().splitlines())


def test_one_node_keeps_every_record_with_one_copy(tmp_path):
    layout = Layout(tmp_path, 40000, 40100)
    props = properties(kafka.write_config(layout))
    assert layout.bootstrap == "127.0.0.1:40000"
    assert props["controller.quorum.voters"] == "1@127.0.0.1:40001"
    assert props["log.retention.ms"] == props["log.retention.bytes"] == "-1"
    assert props["offsets.topic.replication.factor"] == props["default.replication.factor"] == "1"
    assert props["min.insync.replicas"] == props["transaction.state.log.min.isr"] == "1"


def test_three_nodes_replicate_everything_three_times_with_two_in_sync(tmp_path):
    layout = Layout(tmp_path, 40000, 40100, brokers=3)
    assert layout.bootstrap == "127.0.0.1:40000,127.0.0.1:40002,127.0.0.1:40004"
    configs = [properties(kafka.write_config(layout, node=node)) for node in layout.kafka_nodes]
    assert [c["node.id"] for c in configs] == ["1", "2", "3"]
    assert {c["controller.quorum.voters"] for c in configs} == {
        "1@127.0.0.1:40001,2@127.0.0.1:40003,3@127.0.0.1:40005"}
    assert [c["listeners"] for c in configs] == [
        f"PLAINTEXT://127.0.0.1:{p},CONTROLLER://127.0.0.1:{p + 1}" for p in (40000, 40002, 40004)]
    assert len({c["log.dirs"] for c in configs}) == 3
    for c in configs:
        assert c["default.replication.factor"] == c["offsets.topic.replication.factor"] == "3"
        assert c["transaction.state.log.replication.factor"] == "3"
        assert c["min.insync.replicas"] == c["transaction.state.log.min.isr"] == "2"
        assert c["unclean.leader.election.enable"] == "false"
        assert c["log.retention.ms"] == "-1"


def test_a_stack_keeps_the_number_of_brokers_it_was_made_with(tmp_path):
    Layout(tmp_path, 40000, 40100, brokers=3).record()
    assert Layout.resolve(tmp_path).brokers == 3
    with pytest.raises(ValueError):
        Layout(tmp_path, 40000, 40100, brokers=0)


def test_a_secured_stack_has_one_broker(tmp_path):
    layout = dataclasses.replace(Layout(tmp_path, 40000, 40100), brokers=3)
    with pytest.raises(StackError, match="one broker"):
        kafka.write_config(layout, kafka.Secured("a-password"))
