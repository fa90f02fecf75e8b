from __future__ import annotations

from datetime import datetime

from pydantic import Field

from licensor.kit.schemas import Email, Input, Metadata, Name, Output


class CustomerCreate(Input):
    email: Email
    name: Name
    phone_number: str | None = Field(default=None, max_length=40)
    metadata: Metadata = Field(default_factory=dict, max_length=50)


class CustomerUpdate(Input):
    email: Email | None = None
    name: Name | None = None
    phone_number: str | None = Field(default=None, max_length=40)
    metadata: Metadata | None = Field(default=None, max_length=50)


class CustomerOut(Output):
    business_id: str
    created_at: datetime
    customer_id: str = Field(validation_alias="id")
    email: str
    name: str
    phone_number: str | None = None
    metadata: Metadata = Field(default_factory=dict, validation_alias="metadata_")


class CustomerBrief(Output):
    """Dodo's CustomerLimitedDetails."""

    customer_id: str = Field(validation_alias="id")
    email: str
    name: str
    phone_number: str | None = None
    metadata: Metadata = Field(default_factory=dict, validation_alias="metadata_")
