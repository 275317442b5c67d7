# Sourced by the MariaDB image's entrypoint on the first start (empty data
# directory), after the root user exists. One schema and one user per service;
# each user may do anything inside its own schema and nothing outside it, so no
# service can read another's tables. Passwords come from the <service>-db Secrets.
for cs_service in health playbooks expansion; do
  cs_password="$(cat "/etc/mariadb/services/${cs_service}")"
  cs_password="${cs_password//\\/\\\\}"
  cs_password="${cs_password//\'/\\\'}"
  docker_process_sql <<-SQL
	CREATE DATABASE IF NOT EXISTS \`cs_${cs_service}\` CHARACTER SET utf8mb4 COLLATE utf8mb4_bin;
	CREATE USER IF NOT EXISTS 'cs_${cs_service}'@'%' IDENTIFIED BY '${cs_password}';
	GRANT ALL PRIVILEGES ON \`cs_${cs_service}\`.* TO 'cs_${cs_service}'@'%';
	SQL
done
unset cs_service cs_password
