from tests.exports.conftest import hf_offline  # noqa: F401  (datasets without the network)
