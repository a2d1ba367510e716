"""ecs-provisioner: the event-driven provisioning worker for Huawei Cloud ECS."""
