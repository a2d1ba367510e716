"""Huawei Cloud ECS API client: signing, auth, errors, retries, rate limiting. Knows no Kafka."""
