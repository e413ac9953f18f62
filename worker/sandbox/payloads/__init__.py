"""JSON shapes Discourse's serializers produce, built from sandbox records.

Each function names the Discourse serializer it mirrors. Field sets follow the
documented schemas in ``openapi.json`` and the captured webhook bodies; values
the sandbox does not model (read times, views, flair) are Discourse's defaults.
"""

from worker.sandbox.payloads.admin import (
    REVIEW_STATUS,
    reviewable,
    user_field,
    web_hook,
)
from worker.sandbox.payloads.badges import (
    BADGE_TYPES,
    BASIC_BADGE_KEYS,
    badge,
    basic_badge,
    granted_by,
    user_badge,
    webhook_user_badge,
)
from worker.sandbox.payloads.categories import (
    category,
    category_list_item,
    group_permissions,
    site_category,
    webhook_category,
)
from worker.sandbox.payloads.posts import (
    latest_post,
    post,
    post_in_stream,
    webhook_post,
)
from worker.sandbox.payloads.topics import (
    tag_objects,
    topic_list_item,
    topic_list_users,
    topic_view,
    webhook_topic,
)
from worker.sandbox.payloads.users import (
    USER_NOTIFICATION_SCHEDULE,
    admin_user,
    admin_user_detail,
    admin_user_list_item,
    avatar_template,
    basic_group,
    basic_user,
    can_delete_user,
    forum_can_see_members,
    user_detail,
    user_fields_of,
    user_option,
    webhook_group_user,
    webhook_user,
)

__all__ = [
    "BADGE_TYPES",
    "BASIC_BADGE_KEYS",
    "REVIEW_STATUS",
    "USER_NOTIFICATION_SCHEDULE",
    "admin_user",
    "admin_user_detail",
    "admin_user_list_item",
    "avatar_template",
    "badge",
    "basic_badge",
    "basic_group",
    "basic_user",
    "can_delete_user",
    "category",
    "category_list_item",
    "forum_can_see_members",
    "granted_by",
    "group_permissions",
    "latest_post",
    "post",
    "post_in_stream",
    "reviewable",
    "site_category",
    "tag_objects",
    "topic_list_item",
    "topic_list_users",
    "topic_view",
    "user_badge",
    "user_detail",
    "user_field",
    "user_fields_of",
    "user_option",
    "web_hook",
    "webhook_category",
    "webhook_group_user",
    "webhook_post",
    "webhook_topic",
    "webhook_user",
    "webhook_user_badge",
]
