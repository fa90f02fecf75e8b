"""The license desk's routes (plans, subscriptions, licenses, cloud activation, the
revocation list) as one router, so the app registers them with one line."""

from fastapi import APIRouter

from licensor.license_desk.cloud_instance_router import router as cloud_instances
from licensor.license_desk.cloud_router import router as cloud
from licensor.license_desk.machine_router import router as machine_files
from licensor.license_desk.revocation_router import router as revocations
from licensor.license_desk.router import router as licenses
from licensor.plan.router import router as plans
from licensor.subscription.router import router as subscriptions

router = APIRouter()
for _router in (plans, subscriptions, cloud_instances, licenses, cloud, revocations, machine_files):
    router.include_router(_router)
