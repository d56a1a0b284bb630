//! Mosquitto-format password files (`password_file`).
