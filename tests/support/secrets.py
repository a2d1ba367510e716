"""Secret values used by tests; the suite-wide leak check searches every captured log and event
for them (see conftest `pytest_sessionfinish`)."""

from __future__ import annotations

import base64

TEST_AK = "TESTAKEXAMPLE0000001"
TEST_SK = "TestSecretKey0000000000000000000000000001"
ROTATED_AK = "TESTAKEXAMPLE0000002"  # the key TEST_AK is rotated to
ROTATED_SK = "TestSecretKey0000000000000000000000000002"
ADMIN_PASS_LITERAL = "Lit3ral!Passw0rd"
ADMIN_PASS_SECRET = "Resolv3d!Secret"
USER_DATA_PLAIN = "#!/bin/bash\necho very-secret-user-data-7f3a\n"
USER_DATA = base64.b64encode(USER_DATA_PLAIN.encode()).decode()
TEAM_A_SECRET = "Te4mA!Only-Secret"  # in tenant team-a's secret directory (tenant tests)
TEAM_B_SECRET = "Te4mB!Only-Secret"
PLANTED = "Pl4nted!Alias-Secret"
"""Put under every alias and misspelling of a secret field (`admin_pass`, `AdminPass`,
`password`, `userData`, …) by the hostile-record tests: it must be masked wherever it lands."""

#: What must never appear in logs, events, exceptions or metrics.
ALL = (
    TEST_AK,
    TEST_SK,
    ROTATED_AK,
    ROTATED_SK,
    ADMIN_PASS_LITERAL,
    ADMIN_PASS_SECRET,
    TEAM_A_SECRET,
    TEAM_B_SECRET,
    USER_DATA,
    "very-secret-user-data-7f3a",
    PLANTED,
)
