fn main() {
    std::process::exit(failover_drill::cli::main());
}
