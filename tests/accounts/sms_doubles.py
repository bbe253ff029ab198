"""SMS backends for tests: a stand-in for an operator's gateway and one whose gateway is down."""

from accounts.sms import BaseBackend


class GatewayStandIn(BaseBackend):
    """What an operator plugs in: not a development backend (accounts.W001 stays quiet)."""

    def send(self, phone: str, text: str) -> None:
        raise NotImplementedError("a stand-in: no gateway behind it")


class FailingGateway(BaseBackend):
    """A gateway that refuses, echoing the message in its error, as some do."""

    def send(self, phone: str, text: str) -> None:
        raise ConnectionError(f"gateway refused {phone}: {text}")
