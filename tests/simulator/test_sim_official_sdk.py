"""The official SDK's EcsClient, unmodified, talks to the simulator: signatures and models fit.

The SDK is synchronous (requests), so each call runs in a thread. The simulator uses the real
clock here because the SDK stamps X-Sdk-Date with the current time.
"""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import pytest
from huaweicloudsdkcore.auth.credentials import BasicCredentials
from huaweicloudsdkcore.exceptions.exceptions import ClientRequestException
from huaweicloudsdkecs.v2 import (
    CreatePostPaidServersRequest,
    CreatePostPaidServersRequestBody,
    CreateServersRequest,
    CreateServersRequestBody,
    EcsClient,
    PostPaidServer,
    PostPaidServerExtendParam,
    PostPaidServerNic,
    PostPaidServerRootVolume,
    PrePaidServer,
    PrePaidServerExtendParam,
    PrePaidServerNic,
    PrePaidServerRootVolume,
    ShowJobRequest,
)

from tests.simulator.simkit import AK, PROJECT, SK
from tests.support.bodies import server_body
from tests.support.sdk_bodies import every_attribute_requests, unset_attributes
from worker.simulator.knobs import SimulatorConfig
from worker.simulator.serving import running_simulator

IMAGE = server_body()["server"]["imageRef"]
VPC = server_body()["server"]["vpcid"]
SUBNET = server_body()["server"]["nics"][0]["subnet_id"]


def _client(base_url: str, sk: str = SK) -> Any:
    return (
        EcsClient.new_builder()
        .with_credentials(BasicCredentials(AK, sk, PROJECT))
        .with_endpoint(base_url)
        .build()
    )


def _prepaid_server(count: int) -> Any:
    return PrePaidServer(
        image_ref=IMAGE,
        flavor_ref="s6.small.1",
        name="sdk",
        vpcid=VPC,
        nics=[PrePaidServerNic(subnet_id=SUBNET)],
        root_volume=PrePaidServerRootVolume(volumetype="SSD"),
        count=count,
        extendparam=PrePaidServerExtendParam(
            charging_mode="prePaid", period_type="month", period_num=1, is_auto_pay="true"
        ),
    )


@pytest.fixture
async def sim_url() -> Any:
    config = SimulatorConfig(credentials={AK: SK}, job_seconds=(0.0, 0.0), seed=1)
    async with running_simulator(config) as base_url:
        yield base_url


async def test_sdk_creates_servers_and_reads_the_job(sim_url: str) -> None:
    client = _client(sim_url)
    token = str(uuid.uuid4())
    request = CreateServersRequest(
        x_client_token=token, body=CreateServersRequestBody(server=_prepaid_server(2))
    )
    created = await asyncio.to_thread(client.create_servers, request)
    assert created.status_code == 200
    assert len(created.job_id) == 32
    assert created.order_id.startswith("CS")
    assert len(created.server_ids) == 2

    again = await asyncio.to_thread(client.create_servers, request)
    assert (again.job_id, again.server_ids) == (created.job_id, created.server_ids)

    job = await asyncio.to_thread(client.show_job, ShowJobRequest(job_id=created.job_id))
    assert job.status == "SUCCESS"
    assert job.job_type == "createServer"
    assert job.entities.sub_jobs_total == 2
    assert [sub.entities.server_id for sub in job.entities.sub_jobs] == created.server_ids
    assert {sub.status for sub in job.entities.sub_jobs} == {"SUCCESS"}


async def test_sdk_dry_run_post_paid_create_and_errors(sim_url: str) -> None:
    client = _client(sim_url)
    dry = CreateServersRequest(
        body=CreateServersRequestBody(dry_run=True, server=_prepaid_server(1))
    )
    assert (await asyncio.to_thread(client.create_servers, dry)).status_code == 202

    post_paid = CreatePostPaidServersRequest(
        x_client_token=str(uuid.uuid4()),
        body=CreatePostPaidServersRequestBody(
            server=PostPaidServer(
                image_ref=IMAGE,
                flavor_ref="s6.small.1",
                name="sdk-v1",
                vpcid=VPC,
                nics=[PostPaidServerNic(subnet_id=SUBNET)],
                root_volume=PostPaidServerRootVolume(volumetype="SSD"),
                extendparam=PostPaidServerExtendParam(charging_mode=0),
            )
        ),
    )
    created = await asyncio.to_thread(client.create_post_paid_servers, post_paid)
    assert created.status_code == 200
    assert len(created.server_ids) == 1

    bad_token = CreateServersRequest(
        x_client_token="nope", body=CreateServersRequestBody(server=_prepaid_server(1))
    )
    with pytest.raises(ClientRequestException) as refused:
        await asyncio.to_thread(client.create_servers, bad_token)
    assert refused.value.status_code == 400
    assert refused.value.error_code == "Ecs.0123"
    assert refused.value.request_id

    with pytest.raises(ClientRequestException) as unsigned:
        await asyncio.to_thread(_client(sim_url, sk="wrong").show_job, ShowJobRequest(job_id="0"))
    assert unsigned.value.status_code == 401
    assert unsigned.value.error_code == "APIG.0301"


async def test_sdk_creates_servers_with_every_attribute_it_can_send(sim_url: str) -> None:
    """Every attribute of PrePaidServer and below (two bodies: new EIP, existing EIP), sent by
    the SDK's own create_servers, is accepted, and the job ends SUCCESS."""
    bodies = every_attribute_requests()
    assert unset_attributes(bodies) == []
    client = _client(sim_url)
    for body in bodies:
        request = CreateServersRequest(x_client_token=str(uuid.uuid4()), body=body)
        created = await asyncio.to_thread(client.create_servers, request)
        assert created.status_code == 200
        assert len(created.server_ids) == 2
        job = await asyncio.to_thread(client.show_job, ShowJobRequest(job_id=created.job_id))
        assert job.status == "SUCCESS"
        assert [sub.entities.server_id for sub in job.entities.sub_jobs] == created.server_ids
        assert all(sub.entities.nic_id for sub in job.entities.sub_jobs)
