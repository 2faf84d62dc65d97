"""The SWR Manage REST API (`/v2/manage/...`, `GET /`, `GET /v2`)."""
