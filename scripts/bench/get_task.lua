-- wrk script: GET /api/v1/tasks/{id} with a bearer token from the TOKEN environment variable.
wrk.headers["Authorization"] = "Bearer " .. os.getenv("TOKEN")
