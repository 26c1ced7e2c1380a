"""Training, all of it: the task-agnostic engine (Darknet's batch loop, SGD, schedules, backups,
hooks, several processes), detection training (`detection/`), YOLO9000 joint training (`joint`),
mAP during training (`map_hook`) and classifier training (`classifier/`)."""
