"""The reliability run (issue 7): thousands of requests through killed workers, a restarted
broker and a faulty API, then checks that nothing was lost, duplicated or crashed on."""
