"""The researchers' web app: login, the study dashboard, upload, jobs, review, exports."""
