#include "timeline.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/file.h>
#include <unistd.h>

char *
fp_timeline_path(const char *run_dir, const char *uuid, const char *name, const char *source)
{
    g_autofree char *key = uuid && g_uuid_string_is_valid(uuid)
                               ? g_ascii_strdown(uuid, -1)
                               : g_compute_checksum_for_string(G_CHECKSUM_SHA256, name ? name : "", -1);

    return g_strdup_printf("%s/timeline/%s.%s.json", run_dir, key, source);
}

gboolean
fp_timeline_add(const char *run_dir, const char *uuid, const char *name, const char *source, const char *event,
                json_object *fields, gboolean fresh, GError **error)
{
    g_autofree char *path = fp_timeline_path(run_dir, uuid, name, source);
    g_autofree char *dir = g_path_get_dirname(path);
    g_autofree char *lock = g_strconcat(path, ".lock", NULL);
    g_autofree char *text = NULL;
    json_object *root = NULL, *events;
    gboolean ok;
    int fd;

    if (!fields)
        fields = json_object_new_object();
    json_object_object_add(fields, "event", json_object_new_string(event));
    json_object_object_add(fields, "time_us", json_object_new_int64(g_get_real_time()));
    if (!g_file_test(dir, G_FILE_TEST_IS_DIR) && g_mkdir_with_parents(dir, 01733) == 0)
        chmod(dir, 01733); /* mkdir's mode went through the umask */
    /* Hook and wrapper are different processes: one writer at a time. */
    fd = open(lock, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd >= 0)
        flock(fd, LOCK_EX);
    if (!fresh && g_file_get_contents(path, &text, NULL, NULL))
        root = json_tokener_parse(text);
    if (!root || !json_object_is_type(root, json_type_object)) {
        json_object_put(root);
        root = json_object_new_object();
        json_object_object_add(root, "domain", json_object_new_string(name ? name : ""));
        json_object_object_add(root, "events", json_object_new_array());
    }
    events = json_object_object_get(root, "events");
    json_object_array_add(events, fields);
    ok = g_file_set_contents_full(path, json_object_to_json_string_ext(root, JSON_C_TO_STRING_PRETTY), -1,
                                  /* Ephemeral (the run directory is a tmpfs): no fsync on the VM's critical path. */
                                  G_FILE_SET_CONTENTS_NONE, 0644, error);
    json_object_put(root);
    if (fd >= 0)
        close(fd);
    return ok;
}
