"""Object storage for evidence, transcodes and posters: one interface, local and S3 backends."""

from credflow.storage.base import ObjectStore, ObjectTooLarge, StoredObject, UploadTarget, new_key

__all__ = ["ObjectStore", "ObjectTooLarge", "StoredObject", "UploadTarget", "new_key"]
